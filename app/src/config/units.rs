//! Setting value types that can only hold valid values: integers within a
//! range and durations in a named unit, checked while the settings are read
//! (so the error names the variable) and described in the settings schema
//! (so the docs and the Helm chart's schema show the same range).

use std::fmt;
use std::marker::PhantomData;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A whole number in `MIN..=MAX`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Count<const MIN: u64, const MAX: u64>(u64);

impl<const MIN: u64, const MAX: u64> Count<MIN, MAX> {
    /// `value` if it is in range.
    pub fn new(value: u64) -> Result<Self, OutOfRange> {
        if (MIN..=MAX).contains(&value) {
            Ok(Self(value))
        } else {
            Err(OutOfRange {
                min: MIN,
                max: MAX,
                value,
            })
        }
    }

    /// A value known to be in range (defaults, tests).
    ///
    /// # Panics
    /// If it is not.
    pub fn of(value: u64) -> Self {
        Self::new(value).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn get(self) -> u64 {
        self.0
    }

    /// As `usize` (the range fits on every supported platform).
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// As `u32` (saturating).
    pub fn as_u32(self) -> u32 {
        u32::try_from(self.0).unwrap_or(u32::MAX)
    }
}

/// A value outside its setting's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between {min} and {max} (got {value})")]
pub struct OutOfRange {
    pub min: u64,
    pub max: u64,
    pub value: u64,
}

impl<const MIN: u64, const MAX: u64> fmt::Debug for Count<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<const MIN: u64, const MAX: u64> fmt::Display for Count<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<'de, const MIN: u64, const MAX: u64> Deserialize<'de> for Count<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = u64::deserialize(d)?;
        Self::new(value).map_err(serde::de::Error::custom)
    }
}

impl<const MIN: u64, const MAX: u64> Serialize for Count<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<const MIN: u64, const MAX: u64> JsonSchema for Count<MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Count_{MIN}_{MAX}").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": "integer", "minimum": MIN, "maximum": MAX })
    }
}

/// The unit a duration setting is written in (its name ends in it).
pub trait Unit: Send + Sync + 'static {
    const NAME: &'static str;
    fn to_duration(n: u64) -> Duration;
    fn from_duration(d: Duration) -> u64;
}

#[derive(Clone, Copy, Debug)]
pub enum Ms {}
#[derive(Clone, Copy, Debug)]
pub enum Sec {}
#[derive(Clone, Copy, Debug)]
pub enum Min {}
#[derive(Clone, Copy, Debug)]
pub enum Hour {}

impl Unit for Ms {
    const NAME: &'static str = "milliseconds";
    fn to_duration(n: u64) -> Duration {
        Duration::from_millis(n)
    }
    fn from_duration(d: Duration) -> u64 {
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
    }
}

impl Unit for Sec {
    const NAME: &'static str = "seconds";
    fn to_duration(n: u64) -> Duration {
        Duration::from_secs(n)
    }
    fn from_duration(d: Duration) -> u64 {
        d.as_secs()
    }
}

impl Unit for Min {
    const NAME: &'static str = "minutes";
    fn to_duration(n: u64) -> Duration {
        Duration::from_secs(n.saturating_mul(60))
    }
    fn from_duration(d: Duration) -> u64 {
        d.as_secs() / 60
    }
}

impl Unit for Hour {
    const NAME: &'static str = "hours";
    fn to_duration(n: u64) -> Duration {
        Duration::from_secs(n.saturating_mul(3600))
    }
    fn from_duration(d: Duration) -> u64 {
        d.as_secs() / 3600
    }
}

/// A duration written as a whole number of `U`s in `MIN..=MAX`.
pub struct Span<U, const MIN: u64, const MAX: u64>(Duration, PhantomData<U>);

pub type Millis<const MIN: u64, const MAX: u64> = Span<Ms, MIN, MAX>;
pub type Seconds<const MIN: u64, const MAX: u64> = Span<Sec, MIN, MAX>;
pub type Minutes<const MIN: u64, const MAX: u64> = Span<Min, MIN, MAX>;
pub type Hours<const MIN: u64, const MAX: u64> = Span<Hour, MIN, MAX>;

impl<U: Unit, const MIN: u64, const MAX: u64> Span<U, MIN, MAX> {
    pub fn new(n: u64) -> Result<Self, OutOfRange> {
        Count::<MIN, MAX>::new(n).map(|c| Self(U::to_duration(c.get()), PhantomData))
    }

    /// # Panics
    /// If `n` is out of range (defaults, tests).
    pub fn of(n: u64) -> Self {
        Self::new(n).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn get(&self) -> Duration {
        self.0
    }

    /// The number of units, as written.
    pub fn units(&self) -> u64 {
        U::from_duration(self.0)
    }
}

impl<U, const MIN: u64, const MAX: u64> Clone for Span<U, MIN, MAX> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<U, const MIN: u64, const MAX: u64> Copy for Span<U, MIN, MAX> {}

impl<U: Unit, const MIN: u64, const MAX: u64> PartialEq for Span<U, MIN, MAX> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<U: Unit, const MIN: u64, const MAX: u64> fmt::Debug for Span<U, MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.units(), U::NAME)
    }
}

impl<'de, U: Unit, const MIN: u64, const MAX: u64> Deserialize<'de> for Span<U, MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Self::new(n).map_err(serde::de::Error::custom)
    }
}

impl<U: Unit, const MIN: u64, const MAX: u64> Serialize for Span<U, MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.units().serialize(s)
    }
}

impl<U: Unit, const MIN: u64, const MAX: u64> JsonSchema for Span<U, MIN, MAX> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("{}_{MIN}_{MAX}", U::NAME).into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": MIN,
            "maximum": MAX,
            "x-unit": U::NAME,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_refuse_values_out_of_range() {
        assert_eq!(Count::<1, 10>::new(10).unwrap().get(), 10);
        assert_eq!(
            Count::<1, 10>::new(0).unwrap_err().to_string(),
            "must be between 1 and 10 (got 0)"
        );
    }

    #[test]
    fn spans_are_durations_in_their_unit() {
        assert_eq!(Millis::<10, 100>::of(50).get(), Duration::from_millis(50));
        assert_eq!(Minutes::<1, 60>::of(2).get(), Duration::from_secs(120));
        assert_eq!(Hours::<1, 24>::of(2).units(), 2);
        assert!(Seconds::<1, 5>::new(6).is_err());
        let json = serde_json::to_string(&Seconds::<0, 60>::of(20)).unwrap();
        assert_eq!(json, "20");
    }
}
