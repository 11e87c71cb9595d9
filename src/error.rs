//! One error type for the whole crate: every failure a user can cause names the file, the place
//! in it (column, row or gene) and what to do about it.

use std::fmt;

/// Where in an input an error was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file (as the user named it), if the error is about a file.
    pub file: Option<String>,
    /// Column name, if known.
    pub column: Option<String>,
    /// 0-based row (cell) index in the file, if known.
    pub row: Option<u64>,
    /// Gene name, if known.
    pub gene: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(c) = &self.column {
            parts.push(format!("column '{c}'"));
        }
        if let Some(g) = &self.gene {
            parts.push(format!("gene '{g}'"));
        }
        if let Some(r) = self.row {
            parts.push(format!("row {r}"));
        }
        match &self.file {
            Some(file) if parts.is_empty() => write!(f, "{file}"),
            Some(file) => write!(f, "{file}: {}", parts.join(", ")),
            None => write!(f, "{}", parts.join(", ")),
        }
    }
}

/// All errors calibra reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user's input is wrong: the message says where and what to do.
    #[error("{location}: {message}{}", remedy.as_ref().map(|r| format!("\n  what to do: {r}")).unwrap_or_default())]
    Input {
        /// Where the problem is (boxed to keep `Result`s small).
        location: Box<Location>,
        /// What is wrong.
        message: String,
        /// What the user can do about it.
        remedy: Option<String>,
    },
    /// An option or parameter combination is invalid.
    #[error("invalid option: {0}")]
    Options(String),
    /// Reading or writing a file failed at the operating-system level.
    #[error("{path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Building or serialising an output failed (not the user's input).
    #[error("writing the outputs failed: {0}")]
    Output(String),
    /// The evaluation does not fit the memory available (the browser's WebAssembly memory).
    #[error("{0}\n  what to do: use the command-line calibra (native memory), or evaluate fewer genes or perturbations per run")]
    Resources(String),
    /// A bug in calibra (e.g. a worker thread panicked); please report it.
    #[error("internal error (please report): {0}")]
    Internal(String),
    /// A numerical invariant of the method was violated (e.g. a negative control better than
    /// perfect); reported, never silently ignored.
    #[error("{0}")]
    Numerical(String),
}

impl Error {
    /// A user-input error with a location, message and remedy.
    pub fn input(
        location: Location,
        message: impl Into<String>,
        remedy: impl Into<String>,
    ) -> Self {
        let remedy = remedy.into();
        Error::Input {
            location: Box::new(location),
            message: message.into(),
            remedy: if remedy.is_empty() {
                None
            } else {
                Some(remedy)
            },
        }
    }

    /// A user-input error about a whole file.
    pub fn in_file(file: &str, message: impl Into<String>, remedy: impl Into<String>) -> Self {
        Self::input(
            Location {
                file: Some(file.to_string()),
                ..Default::default()
            },
            message,
            remedy,
        )
    }
}

/// Crate-wide result type.
pub type Result<T> = std::result::Result<T, Error>;

/// `a, b, c … (N more)`: the first `max` items of a list, for messages.
pub fn preview<S: AsRef<str>>(items: &[S], max: usize) -> String {
    let shown: Vec<&str> = items.iter().take(max).map(|x| x.as_ref()).collect();
    let more = items.len().saturating_sub(max);
    let mut out = shown.join(", ");
    if more > 0 {
        out.push_str(&format!(" … ({more} more)"));
    }
    out
}
