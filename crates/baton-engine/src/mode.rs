//! How a stage runs: serial in source order, serial in any order, or parallel.

use std::fmt;

/// How a stage runs its items.
///
/// | mode | replicas | sees items in source order | keeps state across items |
/// |---|---|---|---|
/// | [`Mode::serial_in_order`] | 1 | yes | yes (one state) |
/// | [`Mode::serial`] | 1 | no (arrival order) | yes (one state) |
/// | [`Mode::parallel`]`(n)` | up to `n` | no | one state per replica |
/// | [`Mode::auto`] | tuned while it runs | no | one state per replica |
///
/// Per-item stages (`map`, `filter`, ...) never reorder the stream by
/// themselves: every item keeps its sequence number, and the next
/// `serial_in_order` stage (or an in-order sink) puts items back in source
/// order. Only stages that combine several items (`batch`, `shuffle`,
/// `window`, a stateful `serial` stage, an unordered sink) see arrival order
/// when they are not `serial_in_order`. So the output keeps source order
/// exactly when every combining stage and the sink are in order.
///
/// A stage that waits on I/O (sleeps, disk, network) should be marked
/// [`Mode::blocking`]: its replicas then run on threads of their own, sized by
/// the replica count, so that waiting never takes a core from CPU stages.
///
/// # Examples
///
/// ```
/// use baton_engine::Mode;
/// let decode = Mode::parallel(4);
/// let fetch = Mode::parallel(64).blocking();
/// assert_eq!(decode.replicas(), 4);
/// assert!(fetch.is_blocking());
/// assert!(Mode::serial_in_order().keeps_order());
/// assert!(!Mode::serial().keeps_order());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mode {
    kind: ModeKind,
    replicas: usize,
    blocking: bool,
    auto: bool,
}

/// The scheduling discipline of a stage, without its replica count.
///
/// # Examples
///
/// ```
/// use baton_engine::{Mode, ModeKind};
/// assert_eq!(Mode::parallel(3).kind(), ModeKind::Parallel);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModeKind {
    /// One item at a time, in source order.
    SerialInOrder,
    /// One item at a time, in arrival order.
    Serial,
    /// Several replicas at once, in any order.
    Parallel,
}

impl ModeKind {
    /// Every mode kind, in the order a pipeline file's reference lists them.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// assert_eq!(ModeKind::ALL.len(), 3);
    /// assert!(ModeKind::ALL.iter().all(|m| ModeKind::parse(m.as_str()) == Some(*m)));
    /// ```
    pub const ALL: [ModeKind; 3] = [
        ModeKind::SerialInOrder,
        ModeKind::Serial,
        ModeKind::Parallel,
    ];

    /// The name as a pipeline file writes it.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::ModeKind::SerialInOrder.as_str(), "serial_in_order");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            ModeKind::SerialInOrder => "serial_in_order",
            ModeKind::Serial => "serial",
            ModeKind::Parallel => "parallel",
        }
    }

    /// Reads a mode kind by name (`serial_in_order`, `serial`, `parallel`).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::ModeKind;
    /// assert_eq!(ModeKind::parse("serial"), Some(ModeKind::Serial));
    /// assert_eq!(ModeKind::parse("fast"), None);
    /// ```
    pub fn parse(name: &str) -> Option<ModeKind> {
        ModeKind::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// The mode of this kind with `replicas` (ignored unless parallel).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, ModeKind};
    /// assert_eq!(ModeKind::Parallel.with_replicas(3), Mode::parallel(3));
    /// assert_eq!(ModeKind::Serial.with_replicas(3), Mode::serial());
    /// ```
    pub const fn with_replicas(self, replicas: usize) -> Mode {
        match self {
            ModeKind::SerialInOrder => Mode::serial_in_order(),
            ModeKind::Serial => Mode::serial(),
            ModeKind::Parallel => Mode::parallel(replicas),
        }
    }
}

impl fmt::Display for ModeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Mode {
    /// One item at a time, in source order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::Mode::serial_in_order().replicas(), 1);
    /// ```
    pub const fn serial_in_order() -> Self {
        Self {
            kind: ModeKind::SerialInOrder,
            replicas: 1,
            blocking: false,
            auto: false,
        }
    }

    /// One item at a time, in whatever order items arrive (faster than in order:
    /// it never waits for a late item).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!baton_engine::Mode::serial().keeps_order());
    /// ```
    pub const fn serial() -> Self {
        Self {
            kind: ModeKind::Serial,
            replicas: 1,
            blocking: false,
            auto: false,
        }
    }

    /// Up to `replicas` copies of the stage at once. A count of 0 is treated as 1.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::Mode::parallel(0).replicas(), 1);
    /// ```
    pub const fn parallel(replicas: usize) -> Self {
        let replicas = if replicas == 0 { 1 } else { replicas };
        Self {
            kind: ModeKind::Parallel,
            replicas,
            blocking: false,
            auto: false,
        }
    }

    /// A parallel stage whose replica count the engine tunes while the
    /// pipeline runs: from what it measures of the stage (time on a core,
    /// time waiting, throughput of the stages around it), within the run's
    /// CPU budget and its most replicas ([`crate::Config::cpu_budget`],
    /// [`crate::Config::max_auto_replicas`]). Mostly useful with
    /// [`Mode::blocking`]: a CPU stage's replicas are bounded by the worker
    /// threads anyway, so it gets one per worker; a blocking stage gets as
    /// many as hide its waits (Little's law), and fewer again when its cost
    /// turns from waiting to computing. What it chose, and why, is in the
    /// stats ([`crate::StageStats::tuning`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::Mode;
    /// let fetch = Mode::auto().blocking();
    /// assert!(fetch.is_auto() && fetch.is_blocking());
    /// assert_eq!(fetch.to_string(), "parallel(auto) blocking");
    /// ```
    pub const fn auto() -> Self {
        Self {
            kind: ModeKind::Parallel,
            replicas: 1,
            blocking: false,
            auto: true,
        }
    }

    /// Whether the engine tunes the stage's replicas ([`Mode::auto`]).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!baton_engine::Mode::parallel(4).is_auto());
    /// ```
    pub const fn is_auto(&self) -> bool {
        self.auto
    }

    /// Marks the stage as one that blocks (I/O, sleeps): it runs on dedicated
    /// threads, one per replica, instead of the CPU workers. Give it as many
    /// replicas as items you want in flight (throughput x latency); when the
    /// stages after it are slower, the threads it does not need park.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_engine::Mode::parallel(32).blocking().is_blocking());
    /// ```
    pub const fn blocking(mut self) -> Self {
        self.blocking = true;
        self
    }

    /// The scheduling discipline.
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_engine::{Mode, ModeKind};
    /// assert_eq!(Mode::serial().kind(), ModeKind::Serial);
    /// ```
    pub const fn kind(&self) -> ModeKind {
        self.kind
    }

    /// The replica count asked for (1 for serial stages, and for
    /// [`Mode::auto`], whose count the engine chooses).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(baton_engine::Mode::parallel(8).replicas(), 8);
    /// ```
    pub const fn replicas(&self) -> usize {
        self.replicas
    }

    /// Whether the stage was marked as blocking.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!baton_engine::Mode::parallel(8).is_blocking());
    /// ```
    pub const fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// Whether the stage sees its items in source order.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!baton_engine::Mode::parallel(2).keeps_order());
    /// ```
    pub const fn keeps_order(&self) -> bool {
        matches!(self.kind, ModeKind::SerialInOrder)
    }

    /// Whether the stage is serial (one replica).
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(baton_engine::Mode::serial().is_serial());
    /// ```
    pub const fn is_serial(&self) -> bool {
        !matches!(self.kind, ModeKind::Parallel)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ModeKind::Parallel if self.auto => f.write_str("parallel(auto)")?,
            ModeKind::Parallel => write!(f, "parallel({})", self.replicas)?,
            kind => f.write_str(kind.as_str())?,
        }
        if self.blocking {
            f.write_str(" blocking")?;
        }
        Ok(())
    }
}
