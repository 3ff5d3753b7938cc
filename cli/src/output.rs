//! Standard output that ends the program quietly when the reader goes away (`vmem info |
//! head -3`), where `println!` would panic.

use std::io::{self, Write};

/// Writes one line to standard output. A closed pipe ends the program with success (the
/// reader has what it wanted); any other write error ends it with an error line.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = io::stdout().lock();
    if let Err(err) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if err.kind() == io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing to standard output: {err}");
        std::process::exit(1);
    }
}

/// `println!` that handles a closed pipe: see [`line`].
macro_rules! outln {
    () => {
        $crate::output::line(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}
pub(crate) use outln;
