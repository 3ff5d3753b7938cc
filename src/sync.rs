//! The crate's locks: a mutual-exclusion cell for slow paths, and the spin lock under it.
//!
//! With `std` it is `std::sync::Mutex` (a futex that spins briefly, then sleeps), so a thread
//! that waits while another makes a long system call (a prefault of a large range, a commit)
//! does not burn a core. Without `std` it is a spin lock; so it is with `--cfg vmem_tsan`,
//! for ThreadSanitizer runs, which cannot see the synchronization inside std's `Mutex`
//! (std is not instrumented here: see TESTING.md). Poisoning is ignored: every
//! critical section in this crate leaves its data consistent at every point where it could
//! unwind (none of them runs user code). `scripts/sanitize.sh tsan` sets the cfg.

use core::ops::{Deref, DerefMut};

use crate::Error;

/// Panics with `err`: the one cold path behind every convenience method that panics
/// (`push`, `insert`, `alloc`, ...) where its `try_` form returns the error. The error's
/// message says what was asked and the limit; `operation` names the method the user called,
/// which the error may not (a `commit` the OS refused, say): "`operation` failed: `err`".
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn failed(operation: &'static str, err: Error) -> ! {
    panic!("{operation} failed: {err}")
}

/// A mutual-exclusion cell: see the [module docs](self).
pub(crate) struct Lock<T> {
    #[cfg(all(feature = "std", not(vmem_tsan)))]
    inner: std::sync::Mutex<T>,
    #[cfg(any(not(feature = "std"), vmem_tsan))]
    inner: SpinLock<T>,
}

/// Holds a [`Lock`]; releases it on drop.
pub(crate) struct LockGuard<'a, T> {
    #[cfg(all(feature = "std", not(vmem_tsan)))]
    inner: std::sync::MutexGuard<'a, T>,
    #[cfg(any(not(feature = "std"), vmem_tsan))]
    inner: SpinGuard<'a, T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Lock<T> {
        Lock {
            #[cfg(all(feature = "std", not(vmem_tsan)))]
            inner: std::sync::Mutex::new(value),
            #[cfg(any(not(feature = "std"), vmem_tsan))]
            inner: SpinLock::new(value),
        }
    }

    /// Waits for the lock and takes it.
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        #[cfg(all(feature = "std", not(vmem_tsan)))]
        let inner = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        #[cfg(any(not(feature = "std"), vmem_tsan))]
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

#[cfg(any(not(feature = "std"), vmem_tsan))]
use spin::SpinGuard;
pub(crate) use spin::SpinLock;

/// A spin lock whose lock word the crate controls: the warm cache needs one, so that a
/// child process can take over a lock that a thread of its parent held at `fork` (that
/// thread does not exist in the child, so it would never be released).
mod spin {
    use core::cell::UnsafeCell;
    use core::ops::{Deref, DerefMut};
    use core::sync::atomic::{AtomicBool, Ordering};

    pub(crate) struct SpinLock<T> {
        locked: AtomicBool,
        value: UnsafeCell<T>,
    }

    #[cfg(feature = "std")]
    const SPINS_BEFORE_YIELD: u32 = 64;

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
            #[cfg(feature = "std")]
            let mut spins = 0u32;
            while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
                while self.locked.load(Ordering::Relaxed) {
                    #[cfg(feature = "std")]
                    {
                        spins += 1;
                        if spins > SPINS_BEFORE_YIELD {
                            std::thread::yield_now();
                            continue;
                        }
                    }
                    core::hint::spin_loop();
                }
            }
            SpinGuard(self)
        }

        /// Takes the lock if it is free.
        #[allow(dead_code)] // only some configurations use it
        pub(crate) fn try_lock(&self) -> Option<SpinGuard<'_, T>> {
            // The guard is made only once the lock is ours: a guard releases the lock when
            // dropped, so one made (and dropped) on failure would release another thread's.
            self.locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
                .then(|| SpinGuard(self))
        }

        /// In a child process right after `fork`, where only the forking thread exists: if
        /// the lock was held (by a thread that is gone), releases it and hands out the value
        /// with `held = true`, so the caller can discard state that may be half-changed.
        ///
        /// # Safety
        /// Only one thread may exist in the process, and it must not hold a guard of this
        /// lock.
        #[allow(dead_code)] // only Unix with `std` forks
        pub(crate) unsafe fn after_fork(&self) -> (SpinGuard<'_, T>, bool) {
            let held = self.locked.swap(true, Ordering::Acquire);
            (SpinGuard(self), held)
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
    use crate::ErrorKind;

    fn panic_message(f: impl FnOnce() + std::panic::UnwindSafe) -> std::string::String {
        let payload = std::panic::catch_unwind(f).unwrap_err();
        payload.downcast_ref::<std::string::String>().cloned().unwrap()
    }

    #[test]
    fn failed_names_the_called_method() {
        let own = Error::new(ErrorKind::OutOfMemory, "Pool::insert", "the pool is full");
        assert_eq!(
            panic_message(|| failed("Pool::insert", own)),
            "Pool::insert failed: Pool::insert: the pool is full"
        );
        let os = Error::from_os(ErrorKind::OutOfMemory, "commit", 12);
        let message = panic_message(|| failed("Arena::alloc", os));
        assert!(message.starts_with("Arena::alloc failed: commit: "), "{message}");
    }

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

    /// The spin lock excludes other threads, through `lock` and `try_lock` alike. (Threads
    /// joined explicitly, so that ThreadSanitizer sees the joins: `scripts/sanitize.sh tsan`.)
    #[test]
    fn spin_lock_excludes_other_threads_with_try_lock_too() {
        let lock = SpinLock::new(0u64);
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        for i in 0..50_000 {
                            let mut guard = if i % 2 == 0 {
                                lock.lock()
                            } else {
                                loop {
                                    if let Some(guard) = lock.try_lock() {
                                        break guard;
                                    }
                                    core::hint::spin_loop();
                                }
                            };
                            // A read and a later write: a second thread inside loses updates.
                            let v = *guard;
                            for _ in 0..20 {
                                core::hint::spin_loop();
                            }
                            *guard = v + 1;
                        }
                    })
                })
                .collect();
            for thread in threads {
                thread.join().unwrap();
            }
        });
        assert_eq!(*lock.lock(), 200_000);
    }

    /// A `try_lock` that finds the lock taken leaves it taken. It built its guard before it
    /// knew whether it had the lock (`then_some` takes a value, not a closure), and dropping
    /// that unused guard released the lock under its holder: the warm cache's shards, which a
    /// thread whose own shard misses tries this way, then had two threads inside at once.
    #[test]
    fn a_failed_try_lock_leaves_the_lock_held() {
        let lock = SpinLock::new(0u32);
        let guard = lock.lock();
        assert!(lock.try_lock().is_none());
        assert!(lock.try_lock().is_none(), "the first failed try_lock released the holder's lock");
        drop(guard);
        assert!(lock.try_lock().is_some());
    }
}
