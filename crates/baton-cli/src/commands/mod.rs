//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod ops;
pub(crate) mod report;
pub(crate) mod run;

/// Exit code for a pipeline file with problems.
pub(crate) const BAD_FILE: u8 = 2;
