//! The typed helpers of both arenas, written once.
//!
//! `typed_helpers!(Arena)` and `typed_helpers!(SyncArena)` generate the same inherent methods
//! (so users need no trait in scope) on top of the type's own `try_alloc_layout`, which is
//! all that differs between the two: a plain bump, or a bump shared between threads. Each
//! method's example names the type it is generated for.

/// Generates `alloc_layout`, `alloc`, `alloc_with`, `alloc_str`, `alloc_slice_copy`,
/// `alloc_slice_clone`, `alloc_slice_fill_with`, `alloc_slice_fill_iter`,
/// `alloc_slice_fill_copy`, `alloc_slice_fill_clone`, `alloc_slice_fill_default` and their
/// `try_` forms for `$Arena`, which has
/// `fn try_alloc_layout(&self, Layout) -> Result<NonNull<u8>>` handing out fresh memory that
/// lives as long as `&self`.
macro_rules! typed_helpers {
    ($Arena:ident) => {
        impl $Arena {
            /// Allocates `layout`; see [`try_alloc_layout`](Self::try_alloc_layout).
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            /// use std::alloc::Layout;
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let p = arena.alloc_layout(Layout::new::<u128>());
            /// assert_eq!(p.as_ptr() as usize % 16, 0);
            /// ```
            #[inline]
            pub fn alloc_layout(&self, layout: ::core::alloc::Layout) -> ::core::ptr::NonNull<u8> {
                match self.try_alloc_layout(layout) {
                    Ok(p) => p,
                    Err(e) => $crate::sync::failed(concat!(stringify!($Arena), "::alloc"), e),
                }
            }

            /// Moves `value` into the arena and returns a mutable reference to it, or gives the
            /// value back with the error when memory, the maximum size or the allocation limit
            /// runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// arena.set_allocation_limit(Some(4096));
            /// assert_eq!(*arena.try_alloc(5u32).unwrap(), 5);
            /// let (value, err) = arena.try_alloc([0u8; 8192]).unwrap_err();
            /// assert_eq!(value.len(), 8192);
            /// assert_eq!(err.kind(), vmem::ErrorKind::OutOfMemory);
            /// ```
            #[inline]
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc<T>(&self, value: T) -> ::core::result::Result<&mut T, (T, $crate::Error)> {
                match self.try_alloc_layout(::core::alloc::Layout::new::<T>()) {
                    Ok(p) => {
                        let p = p.as_ptr().cast::<T>();
                        // SAFETY: `p` is fresh memory, aligned and large enough for a `T`,
                        // that no one else uses and that lives as long as `&self`.
                        unsafe {
                            p.write(value);
                            Ok(&mut *p)
                        }
                    }
                    Err(e) => Err((value, e)),
                }
            }

            /// Moves `value` into the arena and returns a mutable reference to it.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let x = arena.alloc(41);
            /// *x += 1;
            /// assert_eq!(*x, 42);
            /// ```
            #[inline]
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc<T>(&self, value: T) -> &mut T {
                let p = self.alloc_layout(::core::alloc::Layout::new::<T>()).as_ptr().cast::<T>();
                // SAFETY: `p` is fresh memory, aligned and large enough for a `T`, that no
                // one else uses and that lives as long as `&self`.
                unsafe {
                    p.write(value);
                    &mut *p
                }
            }

            /// Allocates room for a `T`, then calls `f` and stores its result there, or
            /// returns an error (without calling `f`) when memory, the maximum size or the
            /// allocation limit runs out.
            ///
            /// Because the memory is allocated before `f` runs, the optimizer can build the
            /// value straight in the arena instead of on the stack and copying it (as
            /// `bumpalo::Bump::alloc_with` does): for large values that saves the copy and the
            /// stack space. That is an optimization the compiler usually makes for a simple
            /// `f` in an optimized build, not a guarantee.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let table = arena.try_alloc_with(|| [7u64; 1 << 14]).unwrap(); // 128 KiB
            /// assert_eq!(table[12345], 7);
            /// arena.set_allocation_limit(Some(0));
            /// assert!(arena.try_alloc_with(|| -> u64 { unreachable!("not called") }).is_err());
            /// ```
            #[inline(always)]
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_with<T>(&self, f: impl FnOnce() -> T) -> $crate::Result<&mut T> {
                let p = self.try_alloc_layout(::core::alloc::Layout::new::<T>())?.as_ptr().cast::<T>();
                // SAFETY: `p` is fresh memory, aligned and large enough for a `T`, that no
                // one else uses and that lives as long as `&self`. If `f` panics, nothing was
                // written and the memory stays allocated, unused.
                unsafe {
                    $crate::arena::write_with(p, f);
                    Ok(&mut *p)
                }
            }

            /// Allocates room for a `T`, then calls `f` and stores its result there: see
            /// [`try_alloc_with`](Self::try_alloc_with) (construction in place is an
            /// optimization, not a guarantee).
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out (before `f`
            /// is called).
            ///
            /// ```
            /// struct Page { bytes: [u8; 4096], used: usize }
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let page = arena.alloc_with(|| Page { bytes: [0; 4096], used: 0 });
            /// page.bytes[0] = 1;
            /// page.used = 1;
            /// assert_eq!((page.bytes[0], page.used), (1, 1));
            /// ```
            #[inline(always)]
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_with<T>(&self, f: impl FnOnce() -> T) -> &mut T {
                let p = self.alloc_layout(::core::alloc::Layout::new::<T>()).as_ptr().cast::<T>();
                // SAFETY: as in `try_alloc_with`.
                unsafe {
                    $crate::arena::write_with(p, f);
                    &mut *p
                }
            }

            /// Fresh, aligned, uninitialized room for `len` values of `T`.
            #[inline]
            fn try_alloc_array<T>(&self, operation: &'static str, len: usize) -> $crate::Result<*mut T> {
                let layout =
                    ::core::alloc::Layout::array::<T>(len).map_err(|_| $crate::arena::too_large(operation, len))?;
                Ok(self.try_alloc_layout(layout)?.as_ptr().cast::<T>())
            }

            /// Allocates a slice of `len` elements, each made by `f(index)`, or returns an
            /// error (before calling `f`) when memory, the maximum size or the allocation
            /// limit runs out. If `f` panics, the elements made so far are leaked, never
            /// dropped.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let s = arena.try_alloc_slice_fill_with(3, |i| i * 10).unwrap();
            /// assert_eq!(s, [0, 10, 20]);
            /// assert!(arena.try_alloc_slice_fill_with(usize::MAX / 2, |_| 0u64).is_err());
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_fill_with<T>(
                &self,
                len: usize,
                mut f: impl FnMut(usize) -> T,
            ) -> $crate::Result<&mut [T]> {
                let p = self.try_alloc_array::<T>(concat!(stringify!($Arena), "::alloc_slice"), len)?;
                for i in 0..len {
                    // SAFETY: `p` has room for `len` elements; element `i` is written once.
                    unsafe { p.add(i).write(f(i)) };
                }
                // SAFETY: all `len` elements are initialized, and the memory is fresh and
                // lives as long as `&self`.
                Ok(unsafe { ::core::slice::from_raw_parts_mut(p, len) })
            }

            /// Allocates a slice of `len` elements, each made by `f(index)`.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.alloc_slice_fill_with(2, |_| 'x'), ['x', 'x']);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_fill_with<T>(&self, len: usize, f: impl FnMut(usize) -> T) -> &mut [T] {
                self.try_alloc_slice_fill_with(len, f)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_fill_with"), e))
            }

            /// Allocates a slice of as many elements as `iter` says it has
            /// ([`ExactSizeIterator::len`]), taken from it in order, or returns an error.
            /// Elements past that length are not taken.
            ///
            /// # Errors
            /// `OutOfMemory` when memory, the maximum size or the allocation limit runs out;
            /// `InvalidArgument` when the iterator ends before the length it promised (the
            /// elements it did give are dropped; the room stays allocated, unused).
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let squares = arena.try_alloc_slice_fill_iter((1..5).map(|i| i * i)).unwrap();
            /// assert_eq!(squares, [1, 4, 9, 16]);
            ///
            /// struct Liar(u32);
            /// impl Iterator for Liar {
            ///     type Item = u32;
            ///     fn next(&mut self) -> Option<u32> {
            ///         self.0 = self.0.checked_sub(1)?;
            ///         Some(self.0)
            ///     }
            /// }
            /// impl ExactSizeIterator for Liar {
            ///     fn len(&self) -> usize { 10 } // there are only 3
            /// }
            /// let err = arena.try_alloc_slice_fill_iter(Liar(3)).unwrap_err();
            /// assert_eq!(err.kind(), vmem::ErrorKind::InvalidArgument);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_fill_iter<T, I>(&self, iter: I) -> $crate::Result<&mut [T]>
            where
                I: IntoIterator<Item = T>,
                I::IntoIter: ExactSizeIterator,
            {
                const OP: &str = concat!(stringify!($Arena), "::alloc_slice_fill_iter");
                let mut iter = iter.into_iter();
                let len = iter.len();
                let p = self.try_alloc_array::<T>(OP, len)?;
                for i in 0..len {
                    let Some(value) = iter.next() else {
                        // SAFETY: the first `i` elements were written and are not used again.
                        unsafe { ::core::ptr::drop_in_place(::core::ptr::slice_from_raw_parts_mut(p, i)) };
                        return Err($crate::Error::new(
                            $crate::ErrorKind::InvalidArgument,
                            OP,
                            "the iterator gave fewer elements than its len() promised",
                        )
                        .sized(len));
                    };
                    // SAFETY: `p` has room for `len` elements; element `i` is written once.
                    unsafe { p.add(i).write(value) };
                }
                // SAFETY: all `len` elements are initialized, and the memory is fresh and
                // lives as long as `&self`.
                Ok(unsafe { ::core::slice::from_raw_parts_mut(p, len) })
            }

            /// Allocates a slice of the elements of `iter` (as many as
            /// [`ExactSizeIterator::len`] says): see
            /// [`try_alloc_slice_fill_iter`](Self::try_alloc_slice_fill_iter).
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out, or the
            /// iterator gives fewer elements than its length promised.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let words = arena.alloc_slice_fill_iter(["a", "b"].iter().map(|s| s.len()));
            /// assert_eq!(words, [1, 1]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_fill_iter<T, I>(&self, iter: I) -> &mut [T]
            where
                I: IntoIterator<Item = T>,
                I::IntoIter: ExactSizeIterator,
            {
                self.try_alloc_slice_fill_iter(iter)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_fill_iter"), e))
            }

            /// Allocates a slice of `len` copies of `value`, or returns an error.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.try_alloc_slice_fill_copy(3, 1.5f32).unwrap(), [1.5; 3]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_fill_copy<T: Copy>(&self, len: usize, value: T) -> $crate::Result<&mut [T]> {
                self.try_alloc_slice_fill_with(len, |_| value)
            }

            /// Allocates a slice of `len` copies of `value`.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let zeros = arena.alloc_slice_fill_copy(1000, 0u8);
            /// assert!(zeros.iter().all(|&b| b == 0));
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_fill_copy<T: Copy>(&self, len: usize, value: T) -> &mut [T] {
                self.try_alloc_slice_fill_copy(len, value)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_fill_copy"), e))
            }

            /// Allocates a slice of `len` clones of `value`, or returns an error. The clones
            /// are never dropped.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let names = arena.try_alloc_slice_fill_clone(2, &String::from("x")).unwrap();
            /// assert_eq!(names, ["x", "x"]);
            /// // The arena never runs destructors: drop values that own memory yourself.
            /// // SAFETY: `names` is not used again.
            /// unsafe { std::ptr::drop_in_place(names) };
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_fill_clone<T: Clone>(&self, len: usize, value: &T) -> $crate::Result<&mut [T]> {
                self.try_alloc_slice_fill_with(len, |_| value.clone())
            }

            /// Allocates a slice of `len` clones of `value`. The clones are never dropped.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.alloc_slice_fill_clone(3, &[1, 2]), [[1, 2]; 3]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_fill_clone<T: Clone>(&self, len: usize, value: &T) -> &mut [T] {
                self.try_alloc_slice_fill_clone(len, value).unwrap_or_else(|e| {
                    $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_fill_clone"), e)
                })
            }

            /// Allocates a slice of `len` elements set to `T::default()`, or returns an error.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let counts = arena.try_alloc_slice_fill_default::<u32>(4).unwrap();
            /// counts[1] += 1;
            /// assert_eq!(counts, [0, 1, 0, 0]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_fill_default<T: Default>(&self, len: usize) -> $crate::Result<&mut [T]> {
                self.try_alloc_slice_fill_with(len, |_| T::default())
            }

            /// Allocates a slice of `len` elements set to `T::default()`.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.alloc_slice_fill_default::<(u8, bool)>(2), [(0, false); 2]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_fill_default<T: Default>(&self, len: usize) -> &mut [T] {
                self.try_alloc_slice_fill_default(len).unwrap_or_else(|e| {
                    $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_fill_default"), e)
                })
            }

            /// Copies `src` into the arena, or returns an error.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.try_alloc_slice_copy(&[1, 2, 3]).unwrap(), [1, 2, 3]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_copy<T: Copy>(&self, src: &[T]) -> $crate::Result<&mut [T]> {
                let p = self.try_alloc_layout(::core::alloc::Layout::for_value(src))?.as_ptr().cast::<T>();
                // SAFETY: `p` is fresh memory with room for `src.len()` elements, so it does
                // not overlap `src`; it lives as long as `&self`.
                unsafe {
                    ::core::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len());
                    Ok(::core::slice::from_raw_parts_mut(p, src.len()))
                }
            }

            /// Copies `src` into the arena.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let copy = arena.alloc_slice_copy(b"bytes");
            /// copy[0] = b'B';
            /// assert_eq!(copy, b"Bytes");
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_copy<T: Copy>(&self, src: &[T]) -> &mut [T] {
                self.try_alloc_slice_copy(src)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_copy"), e))
            }

            /// Clones every element of `src` into the arena, or returns an error. The clones
            /// are never dropped.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let names = [String::from("a"), String::from("b")];
            /// let copies = arena.try_alloc_slice_clone(&names).unwrap();
            /// assert_eq!(copies, names);
            /// // The arena never runs destructors: drop values that own memory yourself.
            /// // SAFETY: `copies` is not used again.
            /// unsafe { std::ptr::drop_in_place(copies) };
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_slice_clone<T: Clone>(&self, src: &[T]) -> $crate::Result<&mut [T]> {
                self.try_alloc_slice_fill_with(src.len(), |i| src[i].clone())
            }

            /// Clones every element of `src` into the arena. The clones are never dropped.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.alloc_slice_clone(&[1.5, 2.5]), [1.5, 2.5]);
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_slice_clone<T: Clone>(&self, src: &[T]) -> &mut [T] {
                self.try_alloc_slice_clone(src)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_slice_clone"), e))
            }

            /// Copies `s` into the arena, or returns an error.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// assert_eq!(arena.try_alloc_str("hi").unwrap(), "hi");
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn try_alloc_str(&self, s: &str) -> $crate::Result<&mut str> {
                let bytes = self.try_alloc_slice_copy(s.as_bytes())?;
                // SAFETY: the bytes are a copy of a valid `str`.
                Ok(unsafe { ::core::str::from_utf8_unchecked_mut(bytes) })
            }

            /// Copies `s` into the arena.
            ///
            /// # Panics
            /// When memory, the maximum size or the allocation limit runs out.
            ///
            /// ```
            #[doc = concat!("let arena = vmem::", stringify!($Arena), "::new();")]
            /// let s = arena.alloc_str("hello");
            /// s.make_ascii_uppercase();
            /// assert_eq!(s, "HELLO");
            /// ```
            #[allow(clippy::mut_from_ref)] // each call returns fresh, disjoint memory
            pub fn alloc_str(&self, s: &str) -> &mut str {
                self.try_alloc_str(s)
                    .unwrap_or_else(|e| $crate::sync::failed(concat!(stringify!($Arena), "::alloc_str"), e))
            }
        }
    };
}

pub(super) use typed_helpers;
