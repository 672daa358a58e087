//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};

/// An exact amount of money in the company currency's minor unit (yen for
/// JPY, cents for USD), as a JSON integer. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money(pub i64);

/// Integers up to 2^53 stay exact in JavaScript clients.
const MAX_SAFE: i64 = 9_007_199_254_740_991;

#[Scalar]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let n = match &value {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n.abs() <= MAX_SAFE => Ok(Money(n)),
            _ => Err(InputValueError::custom(
                "money must be a whole number of minor units (e.g. 150000 for ¥150,000), within ±2^53",
            )),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

/// A calendar date, `YYYY-MM-DD` (ISO 8601).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Date(pub chrono::NaiveDate);

#[Scalar]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            // Years beyond 1–9999 mean nothing to a sales team, and date
            // arithmetic near chrono's limits would overflow.
            Value::String(s) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| (1..=9999).contains(&chrono::Datelike::year(d)))
                .map(Date)
                .ok_or_else(|| {
                    InputValueError::custom(format!("{s:?} is not a date from year 1 to 9999; write YYYY-MM-DD"))
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

impl From<Date> for sea_orm::Value {
    fn from(d: Date) -> Self {
        d.0.into()
    }
}
