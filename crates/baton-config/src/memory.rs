//! The memory budget as people write it: `"4 GiB"`, `"512 MB"`, a number
//! of bytes, or `"off"`.

use std::fmt;
use std::str::FromStr;

/// A run's memory budget (`[pipeline] memory_budget`, `baton run
/// --memory-budget`): the most resident memory the process may hold, or
/// no guard at all. Unset, the engine's default holds (three quarters of
/// the machine's memory).
///
/// # Examples
///
/// ```
/// use baton_config::MemoryBudget;
/// assert_eq!("4 GiB".parse::<MemoryBudget>().unwrap(), MemoryBudget::Bytes(4 << 30));
/// assert_eq!("512MB".parse::<MemoryBudget>().unwrap(), MemoryBudget::Bytes(512_000_000));
/// assert_eq!("off".parse::<MemoryBudget>().unwrap(), MemoryBudget::Off);
/// assert_eq!(MemoryBudget::Bytes(4 << 30).to_string(), "4.0 GiB");
/// assert!("4 GiBs".parse::<MemoryBudget>().is_err());
/// assert!("0".parse::<MemoryBudget>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryBudget {
    /// At most this many bytes resident.
    Bytes(u64),
    /// No guard.
    Off,
}

impl MemoryBudget {
    /// The bytes, for [`baton_engine::Config::memory_budget`] (`None`: off).
    ///
    /// # Examples
    ///
    /// ```
    /// use baton_config::MemoryBudget;
    /// assert_eq!(MemoryBudget::Off.bytes(), None);
    /// ```
    pub fn bytes(self) -> Option<u64> {
        match self {
            Self::Bytes(bytes) => Some(bytes),
            Self::Off => None,
        }
    }
}

/// Why a memory budget could not be read.
///
/// # Examples
///
/// ```
/// let error = "lots".parse::<baton_config::MemoryBudget>().unwrap_err();
/// assert!(error.to_string().contains("\"4 GiB\""));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a memory budget is a size such as \"4 GiB\" or \"512 MB\" (or a number of bytes), or \"off\"; not {0:?}")]
pub struct MemoryBudgetError(String);

impl FromStr for MemoryBudget {
    type Err = MemoryBudgetError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(Self::Off);
        }
        match text.parse::<bytesize::ByteSize>() {
            Ok(size) if size.as_u64() > 0 => Ok(Self::Bytes(size.as_u64())),
            _ => Err(MemoryBudgetError(text.to_string())),
        }
    }
}

impl fmt::Display for MemoryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bytes(bytes) => write!(f, "{}", bytesize::ByteSize::b(*bytes).display().iec()),
            Self::Off => f.write_str("off"),
        }
    }
}
