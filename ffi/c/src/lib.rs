//! `libvmem.a` and `libvmem.so`: every `vmem_*` function of `vmem-ffi`, exported for C and
//! C++ programs (declared in `ffi/include/vmem.h`). Nothing else lives here.
pub use vmem_ffi::*;
