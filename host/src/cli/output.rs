//! Writing to stdout without panicking when the reader goes away (`ferry log | head`).

use std::io::Write;

/// Write `text` to stdout; a closed pipe ends the process quietly, as `cat` would.
pub fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        tracing::error!("cannot write to stdout: {error}");
    }
}

/// `println!` through [`emit`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::emit(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use out;
