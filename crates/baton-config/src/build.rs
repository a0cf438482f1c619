//! Building a plan on the engine: every stage's op is built from its
//! parameters (where missing files and bad patterns show up), then wired
//! into an engine pipeline of [`Item`]s: the source first, then each stage
//! in the middle attaching itself to the builder this file sets up (name,
//! mode, error policy, buffer), then the sink.

use baton_engine::{BoxError, Config, OnError, Pipeline, PipelineIter, RunHandle, StageBuilder};
use baton_ops::{BuiltOp, BuiltSource, Item, SinkFactory, Warnings};

use crate::dead_letters::DeadLetterFiles;
use crate::diagnostic::Diagnostics;
use crate::plan::{Plan, PlannedStage};
use baton_engine::ModeKind;

/// A plan whose stages are all built, ready to run.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
/// let built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
/// assert_eq!(built.plan.stages.len(), 2);
/// assert_eq!(built.source_len, Some(3));
/// ```
#[derive(Debug)]
pub struct Built {
    /// The plan.
    pub plan: Plan,
    pub(crate) ops: Vec<BuiltOp>,
    /// The number of items the source will give, when known.
    pub source_len: Option<u64>,
    /// Where the stages' warnings go.
    warnings: Warnings,
    /// Whether the source's parse stage follows it: the run's items are
    /// then the records it parses, not the blocks the source reads.
    parses_after_source: bool,
}

/// How to run a built pipeline.
///
/// # Examples
///
/// ```
/// let options = baton_config::RunOptions { trace: true, ..Default::default() };
/// assert!(options.threads.is_none());
/// ```
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Record spans for a trace or report.
    pub trace: bool,
    /// CPU threads, overriding the file.
    pub threads: Option<usize>,
    /// Cores the tuner may fill, overriding the file's `cpu_budget`.
    pub cpu_budget: Option<usize>,
    /// The memory budget, overriding the file's `memory_budget`.
    pub memory_budget: Option<crate::MemoryBudget>,
}

impl Plan {
    /// Builds every stage's op; problems (a missing file, a bad pattern)
    /// come back pointing at the parameter in the file. Every stage's
    /// warnings go to one collector, the run's (see [`Started::warnings`]).
    ///
    /// # Errors
    ///
    /// Every stage that could not be built.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
    /// let built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
    /// assert_eq!(built.source_len, Some(3));
    /// ```
    pub fn build(self) -> Result<Built, Diagnostics> {
        self.build_hosted(None)
    }

    /// Builds every stage's op as [`Plan::build`] does, with `host` making
    /// the `python` stages: the functions of the program that runs the
    /// pipeline (see [`FunctionHost`](baton_ops::FunctionHost)). Without
    /// one, a `python` stage is a problem that says where it runs.
    ///
    /// # Errors
    ///
    /// Every stage that could not be built.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"python\"\nfunction = \"m:f\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let plan = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap();
    /// let refused = plan.build_hosted(None).unwrap_err();
    /// assert!(refused.to_string().contains("from Python"), "{refused}");
    /// ```
    pub fn build_hosted(self, host: Option<baton_ops::SharedHost>) -> Result<Built, Diagnostics> {
        let mut problems = Vec::new();
        let mut ops = Vec::new();
        let warnings = Warnings::new();
        for stage in &self.stages {
            let mut params = stage
                .params
                .clone()
                .with_warnings(warnings.stage(&stage.name));
            if let Some(host) = &host {
                params = params.with_host(host.clone());
            }
            match (stage.op.build)(&params) {
                Ok(op) => ops.push(op),
                Err(error) => problems.push(self.stage_diagnostic(
                    stage,
                    error.param.as_deref(),
                    error.message,
                )),
            }
        }
        if !problems.is_empty() {
            return Err(Diagnostics(problems));
        }
        let mut plan = self;
        if let Err(problem) = plan.repeat_source(&mut ops, &warnings) {
            return Err(Diagnostics(vec![*problem]));
        }
        let parses_after_source = plan.place_parse_stage(&mut ops);
        let ops = rows_before_row_stages(ops);
        let source_len = match ops.first() {
            Some(BuiltOp::Source(source)) => source.len,
            _ => None,
        };
        Ok(Built {
            plan,
            ops,
            source_len,
            warnings,
            parses_after_source,
        })
    }
}

impl Built {
    /// Wires the plan on the engine, up to its sink (or its open end).
    fn wire(self, options: &RunOptions) -> Result<Wired, BoxError> {
        let Built {
            plan,
            ops,
            warnings,
            parses_after_source,
            ..
        } = self;
        let mut config = Config::default().trace(options.trace);
        if let Some(threads) = options.threads.or(plan.threads) {
            config = config.threads(threads);
        }
        if let Some(cores) = options.cpu_budget.or(plan.cpu_budget) {
            config = config.cpu_budget(cores);
        }
        if let Some(budget) = options.memory_budget.or(plan.memory_budget) {
            config = config.memory_budget(budget.bytes());
        }
        if let Some(replicas) = plan.max_auto_replicas {
            config = config.max_auto_replicas(replicas);
        }
        if let Some(items) = plan.max_in_flight {
            config = config.max_in_flight(items);
        }
        if let Some(linger) = plan.linger {
            config = config.linger(linger);
        }
        let threads = config.thread_count();
        let mut ops = ops.into_iter();
        let mut stages = plan.stages.iter();
        let (Some(BuiltOp::Source(source)), Some(first)) = (ops.next(), stages.next()) else {
            return Err("the first stage is not a source".into());
        };
        let pipeline = if source.streaming {
            Pipeline::from_stream_results(source.items)
        } else {
            Pipeline::from_results(source.items)
        };
        let dead_letters = DeadLetterFiles::new(&plan);
        let letters = dead_letters.clone();
        let pipeline = pipeline
            // Every stage counts records, not chunks of them.
            .count_by(Item::record_count)
            .on_dead_letter(move |letter| letters.take(letter))
            .config(config)
            .name_source(&first.name)
            .source_on_error(if first.on_error == OnError::Skip {
                OnError::Skip
            } else {
                OnError::Fail
            });
        let mut end = None;
        let mut open = Some(pipeline);
        for (index, (stage, op)) in stages.zip(ops).enumerate() {
            let mode = stage.engine_mode(threads);
            let Some(pipeline) = open.take() else { break };
            let mut builder = pipeline.stage(&stage.name, mode).on_error(stage.on_error);
            if let Some(items) = stage.buffer {
                builder = builder.buffer(items);
            }
            if stage.auto_buffer {
                builder = builder.buffer_auto();
            }
            if !stage.fuse {
                builder = builder.fuse(false);
            }
            open = Some(match op {
                BuiltOp::Stage(built) => {
                    let pipeline = built.attach(builder);
                    if index == 0 && parses_after_source {
                        pipeline.count_run_here()
                    } else {
                        pipeline
                    }
                }
                BuiltOp::Sink(make) => {
                    end = Some(End::Sink(builder, make));
                    break;
                }
                BuiltOp::Source(_) => {
                    return Err(format!("stage `{}` is a source in the middle", stage.name).into())
                }
                _ => {
                    return Err(format!(
                        "stage `{}` is an op of a kind this build cannot run",
                        stage.name
                    )
                    .into())
                }
            });
        }
        let end = match (end, open) {
            (Some(end), _) => end,
            (None, Some(pipeline)) => End::Open(pipeline),
            (None, None) => return Err("the pipeline has no end".into()),
        };
        Ok(Wired {
            end,
            plan,
            dead_letters,
            warnings,
        })
    }

    /// Starts the run on the in-process engine.
    ///
    /// # Errors
    ///
    /// When the engine refuses the pipeline or the sink cannot be made.
    ///
    /// # Examples
    ///
    /// ```
    /// let text = "[[stage]]\nop = \"range\"\nend = 100\n\n[[stage]]\nop = \"discard\"\n";
    /// let built = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap();
    /// let run = built.start(&Default::default()).unwrap();
    /// let report = run.handle.join().unwrap();
    /// assert_eq!(report.stats.source.items, 100);
    /// ```
    pub fn start(self, options: &RunOptions) -> Result<Started, BoxError> {
        let Wired {
            end,
            plan,
            dead_letters,
            warnings,
        } = self.wire(options)?;
        let End::Sink(builder, make) = end else {
            return Err("the last stage is not a sink".into());
        };
        let handle = builder.spawn_sink(make()?)?;
        Ok(Started {
            handle,
            plan,
            dead_letters,
            warnings,
        })
    }

    /// Starts the run of a pipeline that ends in a loop ([`Ending::Loop`]):
    /// its last stage's items come out of an iterator, in source order,
    /// as the loop takes them (the run waits while it does not: memory
    /// stays bounded). A failure comes as the last item, an `Err`;
    /// dropping the iterator stops the run.
    ///
    /// # Errors
    ///
    /// When the engine refuses the pipeline, or it ends in a sink.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_config::{Ending, Plan, Variables};
    /// let text = "[[stage]]\nop = \"range\"\nend = 5\n\n[[stage]]\nop = \"batch\"\nsize = 2\n";
    /// let plan = Plan::parse_ending("p.toml".as_ref(), text, &Variables::from_env(), &[], Ending::Loop).unwrap();
    /// let run = plan.build().unwrap().iter(&Default::default()).unwrap();
    /// let sizes: Vec<u64> = run.items.map(|item| item.unwrap().get("size").unwrap().as_u64().unwrap()).collect();
    /// assert_eq!(sizes, [2, 2, 1]);
    /// ```
    pub fn iter(self, options: &RunOptions) -> Result<Iterated, BoxError> {
        let Wired {
            end,
            plan,
            dead_letters,
            warnings,
        } = self.wire(options)?;
        let End::Open(pipeline) = end else {
            return Err("the pipeline ends in a sink: a loop cannot take its items".into());
        };
        Ok(Iterated {
            items: pipeline.into_iter(),
            plan,
            dead_letters,
            warnings,
        })
    }
}

/// A pipeline wired on the engine, up to its end.
struct Wired {
    end: End,
    plan: Plan,
    dead_letters: DeadLetterFiles,
    warnings: Warnings,
}

/// How a wired pipeline ends: its sink's stage, or open for a loop.
enum End {
    Sink(StageBuilder<Item>, SinkFactory),
    Open(Pipeline<Item>),
}

/// A run whose items a loop takes (see [`Built::iter`]).
///
/// # Examples
///
/// See [`Built::iter`].
#[derive(Debug)]
pub struct Iterated {
    /// The last stage's items, in source order; a failure is the last, an `Err`.
    pub items: PipelineIter<Item>,
    /// Its plan.
    pub plan: Plan,
    dead_letters: DeadLetterFiles,
    warnings: Warnings,
}

impl Iterated {
    /// The run's dead letters (see [`Started::dead_letters`]).
    ///
    /// # Examples
    ///
    /// See [`DeadLetterFiles`].
    pub fn dead_letters(&self) -> DeadLetterFiles {
        self.dead_letters.clone()
    }

    /// The run's warnings (see [`Started::warnings`]).
    ///
    /// # Examples
    ///
    /// See [`Started::warnings`].
    pub fn warnings(&self) -> Warnings {
        self.warnings.clone()
    }
}

impl Plan {
    /// A `repeat` stage wraps the source right before it: it leaves the
    /// plan (a note on the source says so) and the source gives every
    /// epoch, building itself anew for each epoch it reads again.
    fn repeat_source(
        &mut self,
        ops: &mut Vec<BuiltOp>,
        warnings: &Warnings,
    ) -> Result<(), Box<crate::diagnostic::Diagnostic>> {
        let repeats: Vec<usize> = ops
            .iter()
            .enumerate()
            .filter(|(_, op)| matches!(op, BuiltOp::Repeat(_)))
            .map(|(at, _)| at)
            .collect();
        let Some(&at) = repeats.first() else {
            return Ok(());
        };
        let misplaced = repeats.iter().find(|&&at| at != 1).copied();
        if let Some(at) =
            misplaced.or((!matches!(ops.first(), Some(BuiltOp::Source(_)))).then_some(at))
        {
            return Err(Box::new(self.stage_diagnostic(
                &self.stages[at],
                None,
                "`repeat` must come right after the source, once: it replays what the source reads"
                    .into(),
            )));
        }
        let (BuiltOp::Repeat(repeat), BuiltOp::Source(first)) = (ops.remove(1), ops.remove(0))
        else {
            unreachable!("checked above")
        };
        let repeat_stage = self.stages.remove(1);
        let source = &self.stages[0];
        let op = source.op;
        let params = source
            .params
            .clone()
            .with_warnings(warnings.stage(&source.name));
        let make: baton_ops::MakeSource = Box::new(move || match (op.build)(&params) {
            Ok(BuiltOp::Source(source)) => Ok(source),
            Ok(_) => Err(format!("`{}` did not build a source", op.name).into()),
            Err(error) => Err(error.to_string().into()),
        });
        let replayed = repeat.cache_file.as_ref().is_some_and(|path| path.exists());
        let kept = match &repeat.cache_file {
            Some(path) if replayed => {
                format!("replayed from {} (the source is not read)", path.display())
            }
            Some(path) => format!("kept in {}", path.display()),
            None => "kept in memory".to_string(),
        };
        let how = match (repeat.shuffle, repeat.cache || repeat.cache_file.is_some()) {
            (true, _) => format!("each a new permutation (seed {}), {kept}", repeat.seed),
            (false, true) if replayed => kept,
            (false, true) => format!("the first read, the others {kept}"),
            (false, false) => "each read anew".to_string(),
        };
        let note = format!(
            "repeated by the stage `{}`: {} epochs, {how}; every item has the field `epoch`",
            repeat_stage.name, repeat.epochs
        );
        match repeat.around(first, make) {
            Ok(source) => ops.insert(0, BuiltOp::Source(source)),
            Err(error) => {
                return Err(Box::new(self.stage_diagnostic(
                    &repeat_stage,
                    None,
                    error.to_string(),
                )));
            }
        }
        self.stages[0].notes.push(note);
        Ok(())
    }

    /// A source that parses in parallel (`csv`) hands its parse stage over:
    /// it goes right after the source, in the plan (named `SOURCE.parse`,
    /// so that the live view, the summary and the report show it) and on
    /// the engine, parallel with a replica per CPU thread unless
    /// `--replicas SOURCE.parse=N` says otherwise, and with the source's
    /// error policy and dead-letter file.
    ///
    /// Unless the stage after the source takes a record at a time: the
    /// source then parses as it reads and gives rows, one item each.
    ///
    /// Returns whether it placed a parse stage.
    fn place_parse_stage(&mut self, ops: &mut Vec<BuiltOp>) -> bool {
        if !matches!(ops.first(), Some(BuiltOp::Source(source)) if source.parse.is_some()) {
            return false;
        }
        if matches!(ops.get(1), Some(BuiltOp::Stage(next)) if !next.takes_records()) {
            // The next stage takes a record at a time: rows from the
            // source itself, each with its own place in the stream.
            let BuiltOp::Source(source) = ops.remove(0) else {
                unreachable!("matched above")
            };
            match source.into_rows() {
                Ok(source) => ops.insert(0, BuiltOp::Source(source)),
                Err(error) => ops.insert(0, BuiltOp::Source(failing_source(error))),
            }
            return false;
        }
        let Some(BuiltOp::Source(source)) = ops.first_mut() else {
            return false;
        };
        let Some(parse) = source.parse.take() else {
            return false;
        };
        let Some(first) = self.stages.first() else {
            return false;
        };
        let mut name = format!("{}.parse", first.name);
        while self.stages.iter().any(|stage| stage.name == name) {
            name.push('_');
        }
        let stage = PlannedStage {
            name,
            op: first.op,
            mode: ModeKind::Parallel,
            replicas: None,
            auto_replicas: false,
            auto_buffer: false,
            fuse: true,
            blocking: false,
            buffer: None,
            on_error: first.on_error,
            dead_letter: first.dead_letter.clone(),
            // Built by the source, from the source's parameters.
            params: baton_ops::Params::new(Default::default(), "."),
            placement: crate::Placement::Local,
            notes: vec![format!(
                "placed by the `{}` source `{}`: parses the blocks it reads, on every CPU thread",
                first.op.name, first.name
            )],
            spans: first.spans.clone(),
        };
        self.stages.insert(1, stage);
        ops.insert(1, BuiltOp::Stage(parse));
        true
    }
}

/// A source whose only item is `error`.
fn failing_source(error: BoxError) -> BuiltSource {
    BuiltSource {
        items: Box::new(std::iter::once(Err(error))),
        len: None,
        streaming: false,
        parse: None,
    }
}

/// The ops, each stage that makes records and is followed by a stage that
/// takes a record at a time made to hand on rows instead: every row is
/// then an item of its own for that stage (its own error, retry, dead
/// letter, and an exact count for `take`).
fn rows_before_row_stages(ops: Vec<BuiltOp>) -> Vec<BuiltOp> {
    let wants_rows: Vec<bool> = ops
        .iter()
        .map(|op| matches!(op, BuiltOp::Stage(stage) if !stage.takes_records()))
        .collect();
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| match op {
            BuiltOp::Stage(stage) if wants_rows.get(i + 1) == Some(&true) => {
                BuiltOp::Stage(stage.into_rows())
            }
            other => other,
        })
        .collect()
}

/// A pipeline running on the engine.
///
/// # Examples
///
/// ```
/// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"discard\"\n";
/// let run = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap().start(&Default::default()).unwrap();
/// assert_eq!(run.plan.name, "p");
/// assert_eq!(run.handle.join().unwrap().stats.source.items, 3);
/// ```
#[derive(Debug)]
pub struct Started {
    /// The run.
    pub handle: RunHandle,
    /// Its plan.
    pub plan: Plan,
    dead_letters: DeadLetterFiles,
    warnings: Warnings,
}

impl Started {
    /// The run's dead letters: each stage's count, and where they went.
    /// They are written as items are skipped, so they are complete however
    /// the run ends.
    ///
    /// # Examples
    ///
    /// See [`DeadLetterFiles`].
    pub fn dead_letters(&self) -> DeadLetterFiles {
        self.dead_letters.clone()
    }

    /// The run's warnings (a filter testing a field no item has, an output
    /// left partial): read them while it goes and once it has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::Moment;
    /// let text = "[[stage]]\nop = \"range\"\nend = 3\n\n[[stage]]\nop = \"filter\"\nexpr = \"valeu > 1\"\n\n[[stage]]\nop = \"discard\"\n";
    /// let run = baton_config::Plan::parse("p.toml".as_ref(), text).unwrap().build().unwrap().start(&Default::default()).unwrap();
    /// let warnings = run.warnings();
    /// run.handle.join().unwrap();
    /// let said = warnings.read(Moment::Ended);
    /// assert_eq!(said[0].stage, "filter");
    /// assert!(said[0].message.contains("did you mean `value`?"), "{}", said[0]);
    /// ```
    pub fn warnings(&self) -> Warnings {
        self.warnings.clone()
    }
}
