//! What building an op gives: a source's items, a stage that attaches
//! itself to an engine pipeline, or a sink's factory.
//!
//! A stage in the middle reaches the engine one way only: its
//! [`BuiltStage`] attaches itself to a [`StageBuilder`] whose name, mode,
//! error policy and buffer the pipeline file has set. Whether it is made of
//! replicas of a [`Stage`] (most ops) or is one of the engine's own
//! operators (`shuffle`, `take`, `prefetch`, ...) is the op's business: the
//! caller never looks.

use std::fmt;
use std::sync::Arc;

use baton_engine::{BoxError, ChunkFloor, ChunkOutputs, Pipeline, Sink, Stage, StageBuilder};

use crate::item::{Item, Payload};

/// Makes the sink (called once).
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Item, OpKind, Params, SinkFactory};
///
/// let dir = tempfile::tempdir().unwrap();
/// let params = Params::new(toml::from_str(r#"path = "out.jsonl""#).unwrap(), dir.path());
/// let op = baton_ops::find_kind("jsonl", OpKind::Sink).unwrap();
/// let BuiltOp::Sink(make) = (op.build)(&params).unwrap() else { unreachable!() };
/// let make: SinkFactory = make;
/// let mut sink = make().unwrap(); // the file is created here, not at build time
/// sink.write(Item::with_field("n", 1)).unwrap();
/// sink.finish().unwrap();
/// assert_eq!(std::fs::read_to_string(dir.path().join("out.jsonl")).unwrap(), "{\"n\":1}\n");
/// ```
pub type SinkFactory = Box<dyn FnOnce() -> Result<Box<dyn Sink<Item>>, BoxError> + Send>;

/// The items of a source, and how many there will be when known.
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Params};
///
/// let params = Params::new(toml::from_str("end = 3").unwrap(), ".");
/// let BuiltOp::Source(source) = (baton_ops::find("range").unwrap().build)(&params).unwrap() else { unreachable!() };
/// assert_eq!(source.len, Some(3));
/// let values: Vec<_> = source.items.map(|item| item.unwrap().get("value").unwrap().clone()).collect();
/// assert_eq!(values, [0, 1, 2]);
/// ```
pub struct BuiltSource {
    /// The items; an `Err` is a bad item (with its position in the message).
    pub items: Box<dyn Iterator<Item = Result<Item, BoxError>> + Send>,
    /// The number of items, when known ahead (for progress and ETA).
    pub len: Option<u64>,
    /// Whether its input arrives at its own pace (standard input): it is
    /// then read on a thread of its own, each item goes on within the
    /// pipeline's linger, and a stop ends the run even while a read waits
    /// (see `baton_engine::Pipeline::from_stream`).
    pub streaming: bool,
    /// The stage that turns what the source reads into records, when
    /// that is worth doing in parallel: the source then only reads (and
    /// decompresses) and cuts blocks on record boundaries, and this stage,
    /// placed right after it with a replica per CPU thread, parses them
    /// (`csv`, `jsonl`, `lines` of many files). It appears in the plan as
    /// the source's name followed by `.parse`.
    pub parse: Option<BuiltStage>,
}

impl BuiltSource {
    /// The same source giving rows, an item each, parsed as it reads
    /// (serially): for a source whose stage after it takes a record at a
    /// time, so that each row has its own place in the stream (its own
    /// error, retry and dead letter). A source without a parse stage is
    /// returned as it is.
    ///
    /// # Errors
    ///
    /// The parse stage's replica could not be made.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{BuiltOp, OpKind, Params};
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("a.log"), "one\ntwo\n").unwrap();
    /// let params = Params::new(toml::from_str(r#"path = "a.log""#).unwrap(), dir.path());
    /// let BuiltOp::Source(source) = (baton_ops::find_kind("lines", OpKind::Source).unwrap().build)(&params).unwrap() else { unreachable!() };
    /// let rows: Vec<_> = source.into_rows().unwrap().items.map(Result::unwrap).collect();
    /// assert_eq!(rows[1].get("line").unwrap(), "two");
    /// ```
    pub fn into_rows(mut self) -> Result<Self, BoxError> {
        let Some(parse) = self.parse.take() else {
            return Ok(self);
        };
        let mut replica = parse.replica()?;
        let items = self
            .items
            .flat_map(move |block| -> Vec<Result<Item, BoxError>> {
                let block = match block {
                    Ok(block) => block,
                    Err(error) => return vec![Err(error)],
                };
                // As a chunk of one: a record that cannot be read is an
                // error of its own, after the block's good rows.
                let mut chunk = ChunkOutputs::default();
                replica.process_chunk(vec![block], &mut chunk);
                let mut rows = Vec::new();
                for report in chunk.into_reports() {
                    match report.outcome {
                        Ok(mut out) => {
                            explode(&mut out, 0);
                            rows.extend(out.into_iter().map(Ok));
                        }
                        Err((error, _)) => rows.push(Err(error)),
                    }
                    rows.extend(report.failed_parts.into_iter().map(|part| Err(part.error)));
                }
                rows
            });
        Ok(Self {
            items: Box::new(items),
            ..self
        })
    }
}

impl fmt::Debug for BuiltSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltSource")
            .field("len", &self.len)
            .field("streaming", &self.streaming)
            .field("parse", &self.parse.is_some())
            .finish_non_exhaustive()
    }
}

/// Makes one replica of a stage.
type ReplicaFactory = Arc<dyn Fn() -> Result<Box<dyn Stage<Item, Item>>, BoxError> + Send + Sync>;

/// How a stage attaches itself.
type Attach = Box<dyn FnOnce(StageBuilder<Item>) -> Pipeline<Item> + Send + Sync>;

/// A stage in the middle of a pipeline, built from its parameters and ready
/// to attach itself to an engine pipeline.
///
/// # Examples
///
/// Attached, as a pipeline file's stage is:
///
/// ```
/// use baton_engine::{Mode, Pipeline};
/// use baton_ops::{BuiltOp, Item, Params};
///
/// let params = Params::new(toml::from_str("count = 2").unwrap(), ".");
/// let BuiltOp::Stage(take) = (baton_ops::find("take").unwrap().build)(&params).unwrap() else { unreachable!() };
/// let items = (0..5).map(|n| Item::with_field("n", n));
/// let builder = Pipeline::from_iter(items).stage("first two", Mode::serial_in_order());
/// let out = take.attach(builder).collect().unwrap();
/// assert_eq!(out, [Item::with_field("n", 0), Item::with_field("n", 1)]);
/// ```
///
/// A replica made by hand, outside any pipeline:
///
/// ```
/// use baton_ops::{BuiltOp, Item, Params};
///
/// let params = Params::new(toml::from_str(r#"fields = { a = "b" }"#).unwrap(), ".");
/// let BuiltOp::Stage(rename) = (baton_ops::find("rename").unwrap().build)(&params).unwrap() else { unreachable!() };
/// let (mut one, mut two) = (rename.replica().unwrap(), rename.replica().unwrap());
/// let mut out = Vec::new();
/// one.process(Item::with_field("a", 1), &mut out).unwrap();
/// two.process(Item::with_field("a", 2), &mut out).unwrap();
/// assert_eq!(out, [Item::with_field("b", 1), Item::with_field("b", 2)]);
/// ```
pub struct BuiltStage {
    attach: Attach,
    /// What `attach` makes its replicas with, when it is made of replicas.
    replicas: Option<ReplicaFactory>,
    /// Whether it takes chunks of records as they are (else a record at a time).
    takes_records: bool,
    /// The fewest items it wants in a chunk (see [`BuiltStage::min_chunk`]).
    min_chunk: Option<ChunkFloor>,
}

impl BuiltStage {
    /// A stage made of replicas of a [`Stage`]: `make` is called once per
    /// replica (once for a serial stage), and a replica it cannot make fails
    /// the items it was made for, under the stage's error policy.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{BoxError, Stage};
    /// use baton_ops::{BuiltStage, Item};
    ///
    /// struct Tag;
    /// impl Stage<Item, Item> for Tag {
    ///     fn process(&mut self, mut item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
    ///         item.set("tagged", true);
    ///         out.push(item);
    ///         Ok(())
    ///     }
    /// }
    /// let stage = BuiltStage::replicas(|| Ok(Tag));
    /// let mut out = Vec::new();
    /// stage.replica().unwrap().process(Item::default(), &mut out).unwrap();
    /// assert_eq!(out, [Item::with_field("tagged", true)]);
    /// ```
    pub fn replicas<S>(make: impl Fn() -> Result<S, BoxError> + Send + Sync + 'static) -> Self
    where
        S: Stage<Item, Item>,
    {
        Self {
            takes_records: false,
            ..Self::record_replicas(move || make().map(RowByRow))
        }
    }

    /// Replicas of a stage that takes chunks of records
    /// ([`Payload::Records`](crate::Payload::Records)) as they are, column
    /// by column; [`BuiltStage::replicas`] is for a stage that takes a
    /// record at a time (it then gets a chunk's rows one by one).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{BoxError, Stage};
    /// use baton_ops::{BuiltStage, Item};
    ///
    /// struct Same;
    /// impl Stage<Item, Item> for Same {
    ///     fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
    ///         out.push(item);
    ///         Ok(())
    ///     }
    /// }
    /// let built = BuiltStage::record_replicas(|| Ok(Same));
    /// assert!(built.replica().is_ok());
    /// ```
    pub fn record_replicas<S>(
        make: impl Fn() -> Result<S, BoxError> + Send + Sync + 'static,
    ) -> Self
    where
        S: Stage<Item, Item>,
    {
        let replicas: ReplicaFactory =
            Arc::new(move || make().map(|stage| Box::new(stage) as Box<dyn Stage<Item, Item>>));
        let for_engine = Arc::clone(&replicas);
        Self {
            attach: Box::new(move |builder| builder.apply(move || for_engine())),
            replicas: Some(replicas),
            takes_records: true,
            min_chunk: None,
        }
    }

    /// Whether the stage takes chunks of records as they are, column by
    /// column ([`BuiltStage::record_replicas`]); a stage that does not
    /// takes a record at a time, and does best when the stage before it
    /// hands it rows ([`BuiltStage::into_rows`]): each row is then an item
    /// of its own, with its own error, retry and dead letter.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{BuiltOp, Params};
    ///
    /// let built = |op: &str, params: &str| {
    ///     let params = Params::new(toml::from_str(params).unwrap(), ".");
    ///     match (baton_ops::find(op).unwrap().build)(&params).unwrap() {
    ///         BuiltOp::Stage(stage) => stage,
    ///         _ => unreachable!(),
    ///     }
    /// };
    /// assert!(built("select", r#"fields = ["a"]"#).takes_records());
    /// assert!(!built("json_parse", "").takes_records());
    /// assert!(!built("take", "count = 3").takes_records());
    /// ```
    pub fn takes_records(&self) -> bool {
        self.takes_records
    }

    /// The same stage, with every chunk of records it makes handed on as
    /// rows, an item each: for a stage followed by one that takes a
    /// record at a time. An engine operator (which makes no records) is
    /// returned as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_ops::{BuiltOp, Item, Params};
    ///
    /// let params = Params::new(toml::from_str(r#"fields = ["a"]"#).unwrap(), ".");
    /// let BuiltOp::Stage(select) = (baton_ops::find("select").unwrap().build)(&params).unwrap() else { unreachable!() };
    /// let rows = vec![
    ///     serde_json::json!({"a": 1, "b": 2}).as_object().unwrap().clone(),
    ///     serde_json::json!({"a": 3, "b": 4}).as_object().unwrap().clone(),
    /// ];
    /// let chunk = Item::records(baton_records::rows::from_rows(rows).unwrap());
    /// let mut out = Vec::new();
    /// select.into_rows().replica().unwrap().process(chunk, &mut out).unwrap();
    /// assert_eq!(out, [Item::with_field("a", 1), Item::with_field("a", 3)]);
    /// ```
    pub fn into_rows(self) -> Self {
        let Some(make) = self.replicas else {
            return self;
        };
        Self {
            takes_records: self.takes_records,
            min_chunk: self.min_chunk,
            ..Self::record_replicas(move || make().map(RowsOut))
        }
    }

    /// A stage that attaches itself with `attach`: one of the engine's own
    /// operators, or any other use of the [`StageBuilder`] it is given (its
    /// name, mode, error policy and buffer are already set).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// use baton_ops::{BuiltStage, Item};
    ///
    /// let skip_one = BuiltStage::attach_with(|builder| builder.skip(1));
    /// assert!(skip_one.replica().is_err(), "an engine operator has no replica of its own");
    /// let items = (0..3).map(|n| Item::with_field("n", n));
    /// let out = skip_one
    ///     .attach(Pipeline::from_iter(items).stage("skip", Mode::serial_in_order()))
    ///     .collect()
    ///     .unwrap();
    /// assert_eq!(out.len(), 2);
    /// ```
    pub fn attach_with(
        attach: impl FnOnce(StageBuilder<Item>) -> Pipeline<Item> + Send + Sync + 'static,
    ) -> Self {
        Self {
            attach: Box::new(attach),
            replicas: None,
            takes_records: false,
            min_chunk: None,
        }
    }

    /// Asks the engine for chunks of at least `items` items (see
    /// [`StageBuilder::min_chunk`]), for a stage that pays a fixed cost
    /// per chunk.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, Pipeline};
    /// use baton_ops::{BuiltOp, Item, Params};
    ///
    /// let params = Params::new(toml::from_str("count = 2").unwrap(), ".");
    /// let BuiltOp::Stage(take) = (baton_ops::find("take").unwrap().build)(&params).unwrap() else { unreachable!() };
    /// let items = (0..5).map(|n| Item::with_field("n", n));
    /// let builder = Pipeline::from_iter(items).stage("first two", Mode::serial_in_order());
    /// let out = take.min_chunk(64).attach(builder).collect().unwrap();
    /// assert_eq!(out.len(), 2);
    /// ```
    pub fn min_chunk(self, items: usize) -> Self {
        self.chunk_floor(ChunkFloor::new(items))
    }

    /// Asks the engine for chunks of at least as many items as `floor`
    /// says when the source makes them (see
    /// [`StageBuilder::chunk_floor`]), for a stage that learns as it runs
    /// how large its chunks should be.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{ChunkFloor, Mode, Pipeline};
    /// use baton_ops::{BuiltOp, Params};
    ///
    /// let params = Params::new(toml::from_str("count = 2").unwrap(), ".");
    /// let BuiltOp::Stage(take) = (baton_ops::find("take").unwrap().build)(&params).unwrap() else { unreachable!() };
    /// let floor = ChunkFloor::new(64);
    /// let items = (0..5).map(|n| baton_ops::Item::with_field("n", n));
    /// let builder = Pipeline::from_iter(items).stage("first two", Mode::serial_in_order());
    /// let out = take.chunk_floor(floor.clone()).attach(builder).collect().unwrap();
    /// assert_eq!(out.len(), 2);
    /// ```
    pub fn chunk_floor(self, floor: ChunkFloor) -> Self {
        Self {
            min_chunk: Some(floor),
            ..self
        }
    }

    /// The same stage, taking a record at a time although its replicas
    /// accept chunks of records: the stage before it then hands it rows,
    /// an item each, so that each has its own outcome.
    pub(crate) fn preferring_rows(self) -> Self {
        Self {
            takes_records: false,
            ..self
        }
    }

    /// Adds the stage to a pipeline: `builder` carries the stage's name,
    /// mode, error policy and buffer.
    ///
    /// # Examples
    ///
    /// See [`BuiltStage`].
    pub fn attach(self, builder: StageBuilder<Item>) -> Pipeline<Item> {
        match self.min_chunk {
            Some(floor) => (self.attach)(builder.chunk_floor(floor)),
            None => (self.attach)(builder),
        }
    }

    /// Makes one replica by hand, to use the stage outside a pipeline
    /// (tests, examples).
    ///
    /// # Errors
    ///
    /// The replica's own failure to be made; or, for a stage that is one of
    /// the engine's operators (`take`, `shuffle`, ...), that it has no
    /// replica outside a pipeline.
    ///
    /// # Examples
    ///
    /// See [`BuiltStage`].
    pub fn replica(&self) -> Result<Box<dyn Stage<Item, Item>>, BoxError> {
        match &self.replicas {
            Some(make) => make(),
            None => Err("this stage is one of the engine's operators: it runs only in a pipeline (attach it)".into()),
        }
    }
}

/// A stage that takes a record at a time, handed a chunk of records
/// ([`Payload::Records`]) row by row.
struct RowByRow<S>(S);

impl<S: Stage<Item, Item>> Stage<Item, Item> for RowByRow<S> {
    fn open(&mut self, ctx: &baton_engine::ReplicaContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }

    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        match item.payload {
            Payload::Records(batch) => {
                for row in crate::item::rows_of(&batch) {
                    self.0.process(row, out)?;
                }
                Ok(())
            }
            _ => self.0.process(item, out),
        }
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.0.flush()
    }

    fn finish(&mut self, out: &mut Vec<Item>) -> Result<(), BoxError> {
        self.0.finish(out)
    }
}

/// A stage whose chunks of records go on as rows, an item each.
struct RowsOut<S>(S);

impl<S: Stage<Item, Item>> Stage<Item, Item> for RowsOut<S> {
    fn open(&mut self, ctx: &baton_engine::ReplicaContext) -> Result<(), BoxError> {
        self.0.open(ctx)
    }

    fn process(&mut self, item: Item, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let start = out.len();
        self.0.process(item, out)?;
        explode(out, start);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BoxError> {
        self.0.flush()
    }

    fn finish(&mut self, out: &mut Vec<Item>) -> Result<(), BoxError> {
        let start = out.len();
        self.0.finish(out)?;
        explode(out, start);
        Ok(())
    }
}

/// Replaces every chunk of records in `out[start..]` by its rows.
fn explode(out: &mut Vec<Item>, start: usize) {
    if !out[start..]
        .iter()
        .any(|item| matches!(item.payload, Payload::Records(_)))
    {
        return;
    }
    let made: Vec<Item> = out.drain(start..).collect();
    for item in made {
        match item.payload {
            Payload::Records(batch) => out.extend(crate::item::rows_of(&batch)),
            _ => out.push(item),
        }
    }
}

impl fmt::Debug for BuiltStage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltStage")
            .field("replicas", &self.replicas.is_some())
            .field("takes_records", &self.takes_records)
            .finish_non_exhaustive()
    }
}

/// A built op, ready to be put in a pipeline: a source, a stage in the
/// middle, or a sink.
///
/// # Examples
///
/// ```
/// use baton_ops::{BuiltOp, Params};
///
/// let params = Params::new(toml::from_str("count = 5").unwrap(), ".");
/// let op = (baton_ops::find("take").unwrap().build)(&params).unwrap();
/// assert!(matches!(op, BuiltOp::Stage(_)));
/// ```
#[non_exhaustive]
pub enum BuiltOp {
    /// A source.
    Source(BuiltSource),
    /// A stage in the middle, which attaches itself to the engine.
    Stage(BuiltStage),
    /// A sink.
    Sink(SinkFactory),
    /// `repeat`: wraps the source right before it (see
    /// [`Repeat::around`](crate::Repeat::around)).
    Repeat(crate::Repeat),
}

impl fmt::Debug for BuiltOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuiltOp::Source(source) => source.fmt(f),
            BuiltOp::Stage(stage) => stage.fmt(f),
            BuiltOp::Sink(_) => f.write_str("Sink"),
            BuiltOp::Repeat(repeat) => repeat.fmt(f),
        }
    }
}
