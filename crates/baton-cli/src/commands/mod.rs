//! One module per subcommand.

pub(crate) mod check;
pub(crate) mod distributed;
pub(crate) mod explain;
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

/// What every pipeline file is read with: where its `${VAR}` take their
/// values (the environment, then the `--env-file`s) and the `--set`s. Set
/// once, by `main`.
static FILE_OPTIONS: std::sync::OnceLock<(baton_config::Variables, Vec<baton_config::Setting>)> =
    std::sync::OnceLock::new();

/// Reads the `--env-file`s (the environment comes first) and keeps the
/// `--set`s.
pub(crate) fn take_file_options(
    env_files: &[std::path::PathBuf],
    settings: Vec<baton_config::Setting>,
) -> Result<(), baton_config::EnvFileError> {
    let mut vars = baton_config::Variables::from_env();
    for file in env_files {
        vars = vars.env_file(file)?;
    }
    let _ = FILE_OPTIONS.set((vars, settings));
    Ok(())
}

/// Reads a pipeline file (`-`: standard input), its `${VAR}` replaced and
/// the `--set`s applied.
pub(crate) fn read_plan(
    file: &std::path::Path,
) -> Result<baton_config::Plan, baton_config::Diagnostics> {
    let (vars, settings) =
        FILE_OPTIONS.get_or_init(|| (baton_config::Variables::from_env(), Vec::new()));
    baton_config::Plan::read_with(file, vars, settings)
}

/// Writes the manual page of `command` (roff) to standard output: the
/// command with its options, then a section per subcommand.
pub(crate) fn manual(command: clap::Command) -> anyhow::Result<std::process::ExitCode> {
    use std::io::Write;
    let mut out = Vec::new();
    let man = clap_mangen::Man::new(command.clone());
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        writeln!(out, ".SH \"BATON {}\"", sub.get_name().to_uppercase())?;
        let sub = sub.clone().bin_name(format!("baton {}", sub.get_name()));
        let man = clap_mangen::Man::new(sub);
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
    }
    man.render_version_section(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Where lines about the run go while the live view draws (log events,
/// the Ctrl-C handler's notices): one for the process.
pub(crate) fn notices() -> &'static baton_live::Notices {
    static NOTICES: std::sync::OnceLock<baton_live::Notices> = std::sync::OnceLock::new();
    NOTICES.get_or_init(baton_live::Notices::default)
}

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
