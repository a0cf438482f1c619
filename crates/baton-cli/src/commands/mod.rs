//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod distributed;
pub(crate) mod ops;
pub(crate) mod report;
pub(crate) mod run;

// Exit codes (README.md, "Exit codes"): 0 done, 1 failed, 2 a bad file or
// bad arguments, 130 stopped or aborted by Ctrl-C. clap exits 2 on its own
// usage errors.

/// Exit code for a run that failed (a stage's error, an output that cannot
/// be written).
pub(crate) const FAILED: u8 = 1;

/// Exit code for a pipeline file with problems.
pub(crate) const BAD_FILE: u8 = 2;

/// Exit code for bad arguments: clap's own usage errors, and those clap
/// cannot see ([`BadArgument`]).
pub(crate) const BAD_ARGUMENTS: u8 = 2;

/// Exit code for a run aborted by a second Ctrl-C (128 + SIGINT).
pub(crate) const ABORTED: u8 = 130;

/// Exit code for a run a first Ctrl-C stopped, once it has drained: the
/// same as an abort's, as the shell expects of a program that ends on
/// SIGINT (a script does not go on as if the run had finished).
pub(crate) const STOPPED: u8 = 130;

/// An argument clap cannot judge alone (`--replicas STAGE=N` naming no
/// stage, `baton ops NAME` naming no op): `main` exits with
/// [`BAD_ARGUMENTS`] for it, as clap does for its own.
#[derive(Debug)]
pub(crate) struct BadArgument(pub(crate) String);

impl std::fmt::Display for BadArgument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadArgument {}
