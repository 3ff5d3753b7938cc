//! C ABI for vmem (work in progress).
