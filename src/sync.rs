//! The crate's one lock: a mutual-exclusion cell for slow paths.
//!
//! With `std` it is `std::sync::Mutex` (a futex that spins briefly, then sleeps), so a thread
//! that waits while another makes a long system call (a prefault of a large range, a commit)
//! does not burn a core. Without `std` it is a spin lock. Poisoning is ignored: every
//! critical section in this crate leaves its data consistent at every point where it could
//! unwind (none of them runs user code).

use core::ops::{Deref, DerefMut};

/// A mutual-exclusion cell: see the [module docs](self).
pub(crate) struct Lock<T> {
    #[cfg(feature = "std")]
    inner: std::sync::Mutex<T>,
    #[cfg(not(feature = "std"))]
    inner: spin::SpinLock<T>,
}

/// Holds a [`Lock`]; releases it on drop.
pub(crate) struct LockGuard<'a, T> {
    #[cfg(feature = "std")]
    inner: std::sync::MutexGuard<'a, T>,
    #[cfg(not(feature = "std"))]
    inner: spin::SpinGuard<'a, T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            #[cfg(feature = "std")]
            inner: std::sync::Mutex::new(value),
            #[cfg(not(feature = "std"))]
            inner: spin::SpinLock::new(value),
        }
    }

    /// Waits for the lock and takes it.
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        #[cfg(feature = "std")]
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(not(feature = "std"))]
        let inner = self.inner.lock();
        LockGuard { inner }
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

#[cfg(not(feature = "std"))]
mod spin {
    use core::cell::UnsafeCell;
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicBool, Ordering};

    pub(crate) struct SpinLock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    // SAFETY: the value is only reached through a guard, and only one guard exists at a
    // time (the `locked` flag, taken with Acquire and released with Release), so sharing
    // the lock shares `T` between threads one at a time: `T: Send` suffices.
    unsafe impl<T: Send> Sync for SpinLock<T> {}
    // SAFETY: the lock owns its value.
    unsafe impl<T: Send> Send for SpinLock<T> {}

    pub(crate) struct SpinGuard<'a, T>(&'a SpinLock<T>);

    impl<T> SpinLock<T> {
        pub(crate) const fn new(value: T) -> SpinLock<T> {
            SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
        }

        pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
            while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
                while self.locked.load(Ordering::Relaxed) {
                    core::hint::spin_loop();
                }
            }
            SpinGuard(self)
        }
    }

    impl<T> Deref for SpinGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            // SAFETY: the guard holds the lock, so no other reference to the value exists.
            unsafe { &*self.0.value.get() }
        }
    }

    impl<T> DerefMut for SpinGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            // SAFETY: as in `deref`, and `&mut self` makes this the only use of the guard.
            unsafe { &mut *self.0.value.get() }
        }
    }

    impl<T> Drop for SpinGuard<'_, T> {
        fn drop(&mut self) {
            self.0.locked.store(false, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excludes_other_threads() {
        let lock = Lock::new(0u64);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        let mut guard = lock.lock();
                        let v = *guard;
                        *guard = v + 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 40_000);
    }
}
