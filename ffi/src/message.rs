//! Failures, the per-thread error message, and the guard every exported function runs in.
//!
//! Each exported function body runs inside [`call`] (or [`infallible`]): a panic never
//! crosses into C (it becomes an error return and a message), a failure writes its message
//! into this thread's buffer, and a success empties it.

use core::cell::UnsafeCell;
use core::ffi::c_char;
use core::fmt::{self, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};

use vmem_core::{Error, ErrorKind};

/// The size of the per-thread message buffer, terminating NUL included. Longer messages are
/// cut at a character boundary.
pub const MESSAGE_CAPACITY: usize = 1024;

thread_local! {
    /// This thread's last error message, NUL-terminated. Const-initialized and without a
    /// destructor, so it is never lazily allocated and never torn down before the thread ends.
    static MESSAGE: UnsafeCell<[u8; MESSAGE_CAPACITY]> = const { UnsafeCell::new([0; MESSAGE_CAPACITY]) };
}

/// Why a call failed: a core [`Error`] (made by the core library or by this crate's own
/// argument checks), plus the range and the value it was about when the core error cannot
/// carry them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Failure {
    error: Error,
    range: Option<(usize, Option<usize>)>,
    values: [Option<(&'static str, u64)>; 2],
}

impl Failure {
    /// A failure of `function` with a fixed explanation.
    pub(crate) const fn new(kind: ErrorKind, function: &'static str, detail: &'static str) -> Failure {
        Failure { error: Error::new(kind, function, detail), range: None, values: [None, None] }
    }

    /// An `InvalidArgument` failure of `function`.
    pub(crate) const fn invalid(function: &'static str, detail: &'static str) -> Failure {
        Failure::new(ErrorKind::InvalidArgument, function, detail)
    }

    /// Records the range the call was about.
    pub(crate) const fn at(mut self, address: usize, size: usize) -> Failure {
        self.range = Some((address, Some(size)));
        self
    }

    /// Records the address the call was about.
    pub(crate) const fn at_address(mut self, address: usize) -> Failure {
        self.range = Some((address, None));
        self
    }

    /// Records a value that explains the failure, such as `("protection", 9)`. Two fit;
    /// a third replaces the second.
    pub(crate) const fn with(mut self, name: &'static str, value: u64) -> Failure {
        if self.values[0].is_none() {
            self.values[0] = Some((name, value));
        } else {
            self.values[1] = Some((name, value));
        }
        self
    }

    /// The class of the failure.
    #[cfg(test)]
    pub(crate) fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// Writes the message for a failure of `function`: the function, what the core error
    /// says, and the range and value where this crate knows them.
    fn write_message(&self, function: &str, out: &mut impl Write) -> fmt::Result {
        if self.error.operation() != function {
            write!(out, "{function}: ")?;
        }
        write!(out, "{}", self.error)?;
        match self.range {
            Some((address, Some(size))) => write!(out, " (address {address:#x}, {size} bytes)")?,
            Some((address, None)) => write!(out, " (address {address:#x})")?,
            None => {}
        }
        for (name, value) in self.values.iter().flatten() {
            write!(out, " ({name} is {value})")?;
        }
        Ok(())
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure { error, range: None, values: [None, None] }
    }
}

/// The result of a call's body.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// Runs the body of the exported function `function`: returns its value and empties this
/// thread's message on success; returns `on_error` and sets the message on failure or panic.
pub(crate) fn call<T>(function: &'static str, on_error: T, body: impl FnOnce() -> Outcome<T>) -> T {
    let outcome = catch_unwind(AssertUnwindSafe(|| match body() {
        Ok(value) => {
            clear_message();
            Some(value)
        }
        Err(failure) => {
            set_message(|out| failure.write_message(function, out));
            None
        }
    }));
    match outcome {
        Ok(Some(value)) => value,
        Ok(None) => on_error,
        Err(payload) => {
            report_panic(function, payload);
            on_error
        }
    }
}

/// Runs the body of an exported function that cannot fail: it never touches the message.
/// A panic (which would be a bug) returns `fallback` and sets the message.
pub(crate) fn infallible<T>(function: &'static str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(payload) => {
            report_panic(function, payload);
            fallback
        }
    }
}

/// Records a caught panic as this thread's message. Nothing here may unwind either.
fn report_panic(function: &'static str, payload: Box<dyn core::any::Any + Send>) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let text = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("no message");
        set_message(|out| write!(out, "{function}: internal error (a panic was caught, please report it): {text}"));
    }));
    // Dropping the payload runs its destructor, which could itself panic: catch that, and
    // leak only the payload of such a second panic.
    if let Err(second) = catch_unwind(AssertUnwindSafe(move || drop(payload))) {
        core::mem::forget(second);
    }
}

/// Overwrites this thread's message with what `write` produces, cut to fit.
fn set_message(write: impl FnOnce(&mut MessageWriter<'_>) -> fmt::Result) {
    let _ = MESSAGE.try_with(|cell| {
        // SAFETY: the buffer belongs to this thread, and no reference to it outlives a call
        // of `set_message`, `clear_message` or `message_bytes`, none of which re-enter each
        // other. C code holds only the raw pointer from `message_ptr`.
        let buffer = unsafe { &mut *cell.get() };
        let mut writer = MessageWriter { buffer, len: 0 };
        // A formatting error only means the message is cut short.
        let _ = write(&mut writer);
        writer.terminate();
    });
}

/// Empties this thread's message.
pub(crate) fn clear_message() {
    let _ = MESSAGE.try_with(|cell| {
        // SAFETY: as in `set_message`.
        let buffer = unsafe { &mut *cell.get() };
        if let Some(first) = buffer.first_mut() {
            *first = 0;
        }
    });
}

/// A pointer to this thread's NUL-terminated message, valid until the thread ends.
pub(crate) fn message_ptr() -> *const c_char {
    MESSAGE.try_with(|cell| cell.get().cast::<c_char>().cast_const()).unwrap_or(c"".as_ptr())
}

/// This thread's message as bytes, for tests.
#[cfg(test)]
pub(crate) fn message_bytes() -> Vec<u8> {
    MESSAGE.with(|cell| {
        // SAFETY: as in `set_message`.
        let buffer = unsafe { &*cell.get() };
        buffer.iter().copied().take_while(|&b| b != 0).collect()
    })
}

/// Writes UTF-8 into the message buffer, whole characters only, always leaving room for the
/// terminating NUL.
struct MessageWriter<'a> {
    buffer: &'a mut [u8; MESSAGE_CAPACITY],
    len: usize,
}

impl MessageWriter<'_> {
    fn terminate(&mut self) {
        if let Some(byte) = self.buffer.get_mut(self.len) {
            *byte = 0;
        }
    }
}

impl Write for MessageWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            // A NUL inside the text would cut it short in C: show it as U+FFFD instead.
            let c = if c == '\0' { char::REPLACEMENT_CHARACTER } else { c };
            let mut encoded = [0u8; 4];
            let bytes = c.encode_utf8(&mut encoded).as_bytes();
            let end = self.len.checked_add(bytes.len()).ok_or(fmt::Error)?;
            // Keep the last byte for the NUL.
            if end >= MESSAGE_CAPACITY {
                return Err(fmt::Error);
            }
            self.buffer.get_mut(self.len..end).ok_or(fmt::Error)?.copy_from_slice(bytes);
            self.len = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> String {
        String::from_utf8(message_bytes()).unwrap()
    }

    #[test]
    fn failure_sets_and_success_clears() {
        let value = call("vmem_test", 0, || Err(Failure::invalid("vmem_test", "the size is zero").at(0x1000, 0)));
        assert_eq!(value, 0);
        assert_eq!(message(), "vmem_test: the size is zero (address 0x1000, 0 bytes)");
        assert_eq!(call("vmem_test", 0, || Ok(5)), 5);
        assert_eq!(message(), "");
    }

    #[test]
    fn core_errors_are_prefixed_with_the_function() {
        let err = vmem_core::reserve(0).unwrap_err();
        call("vmem_reserve", (), || Err(err.into()));
        assert_eq!(message(), format!("vmem_reserve: {err}"));
    }

    #[test]
    fn addresses_without_sizes() {
        call("f", (), || Err(Failure::invalid("f", "d").at_address(0x10)));
        assert_eq!(message(), "f: d (address 0x10)");
    }

    #[test]
    fn values_are_named() {
        call("vmem_protect", (), || Err(Failure::invalid("vmem_protect", "bad protection").with("protection", 9)));
        assert_eq!(message(), "vmem_protect: bad protection (protection is 9)");
        call("f", (), || Err(Failure::invalid("f", "d").with("a", 1).with("b", 2).with("c", 3)));
        assert_eq!(message(), "f: d (a is 1) (c is 3)");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        // A static, not a leaked `String`: LeakSanitizer runs these tests too.
        static DETAIL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| "é".repeat(2000));
        call("f", (), || Err(Failure::invalid("f", DETAIL.as_str())));
        let bytes = message_bytes();
        assert!(bytes.len() < MESSAGE_CAPACITY);
        assert!(bytes.len() >= MESSAGE_CAPACITY - 4);
        assert!(String::from_utf8(bytes).is_ok());
    }

    #[test]
    fn interior_nul_does_not_truncate() {
        call("f", (), || Err(Failure::invalid("f", "a\0b")));
        assert_eq!(message(), "f: a\u{fffd}b");
    }

    #[test]
    fn panics_become_errors() {
        let value = call("vmem_test", 7, || -> Outcome<i32> { panic!("boom") });
        assert_eq!(value, 7);
        assert!(message().contains("vmem_test: internal error"), "{}", message());
        assert!(message().contains("boom"));
        let value = infallible("vmem_test", 3, || -> i32 { panic!("{}", String::from("owned")) });
        assert_eq!(value, 3);
        assert!(message().contains("owned"));
    }

    #[test]
    fn a_payload_whose_drop_panics_is_survived() {
        struct Bomb;
        impl Drop for Bomb {
            fn drop(&mut self) {
                panic!("the payload's destructor panics");
            }
        }
        let value = call("vmem_test", 5, || -> Outcome<i32> { std::panic::panic_any(Bomb) });
        assert_eq!(value, 5);
        assert!(message().contains("vmem_test: internal error"), "{}", message());
    }

    #[test]
    fn messages_are_per_thread() {
        call("here", (), || Err(Failure::invalid("here", "mine")));
        std::thread::spawn(|| {
            assert_eq!(message(), "");
            call("there", (), || Err(Failure::invalid("there", "theirs")));
        })
        .join()
        .unwrap();
        assert_eq!(message(), "here: mine");
    }
}
