//! InfluxQL's functions, computed from points: aggregates and selectors over a bucket,
//! transformations over a series of points, and math between values. Each follows
//! InfluxDB 1.x's reducers (`query/functions.go`), which the differential test checks.

use super::Fail;
use crate::timeseries::embedded::query::{percentile_index, replaces};
use streamswarm_tsdb::query::{Aggregate, Value};

/// An aggregate or selector of one field's points in a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Func {
    Mean,
    Median,
    Mode,
    Spread,
    Stddev,
    Sum,
    Count,
    Min,
    Max,
    First,
    Last,
    Percentile(f64),
    /// `count(distinct(field))`: how many different values.
    CountDistinct,
}

impl Func {
    pub fn parse(name: &str) -> Option<Func> {
        Some(match name {
            "mean" => Func::Mean,
            "median" => Func::Median,
            "mode" => Func::Mode,
            "spread" => Func::Spread,
            "stddev" => Func::Stddev,
            "sum" => Func::Sum,
            "count" => Func::Count,
            "min" => Func::Min,
            "max" => Func::Max,
            "first" => Func::First,
            "last" => Func::Last,
            "percentile" => Func::Percentile(f64::NAN),
            _ => return None,
        })
    }

    /// Selectors return one of their points (and, alone in a query without
    /// `GROUP BY time`, its time).
    pub fn is_selector(self) -> bool {
        matches!(
            self,
            Func::Min | Func::Max | Func::First | Func::Last | Func::Percentile(_)
        )
    }

    /// The product's query model's aggregate, where one matches (the rollup-aware path).
    pub fn as_model(self) -> Option<Aggregate> {
        Some(match self {
            Func::Mean => Aggregate::Mean,
            Func::Min => Aggregate::Min,
            Func::Max => Aggregate::Max,
            Func::Count => Aggregate::Count,
            Func::Sum => Aggregate::Sum,
            Func::First => Aggregate::First,
            Func::Last => Aggregate::Last,
            Func::Percentile(p) => Aggregate::Percentile(p),
            _ => return None,
        })
    }

    fn numeric_only(self) -> bool {
        !matches!(
            self,
            Func::Count
                | Func::CountDistinct
                | Func::First
                | Func::Last
                | Func::Min
                | Func::Max
                | Func::Mode
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Mean => "mean",
            Func::Median => "median",
            Func::Mode => "mode",
            Func::Spread => "spread",
            Func::Stddev => "stddev",
            Func::Sum => "sum",
            Func::Count | Func::CountDistinct => "count",
            Func::Min => "min",
            Func::Max => "max",
            Func::First => "first",
            Func::Last => "last",
            Func::Percentile(_) => "percentile",
        }
    }

    /// Whether the function applies to values like `sample` (InfluxDB refuses the query
    /// otherwise, e.g. `mean()` of a string field).
    pub fn check(self, field: &str, sample: &Value) -> Result<(), Fail> {
        let numeric = matches!(
            sample,
            Value::Float(_) | Value::Integer(_) | Value::Unsigned(_)
        );
        let ok = match self {
            _ if self.numeric_only() => numeric,
            Func::Min | Func::Max => !matches!(sample, Value::String(_)),
            _ => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Fail::Invalid(format!(
                "{}() is not defined for field {field:?}, which holds {}",
                self.name(),
                kind(sample)
            )))
        }
    }

    /// The function of a bucket's points (time order; ties in series order): `None`
    /// when it has no point there; otherwise the selected point's time (selectors) and
    /// the value, which is null for a standard deviation of one point (InfluxDB emits a
    /// null point there, which `fill` leaves alone).
    pub fn compute(self, points: &[(i64, Value)]) -> Option<(i64, Option<Value>)> {
        if self == Func::Stddev && points.len() == 1 {
            return Some((points[0].0, None));
        }
        self.value(points).map(|(t, v)| (t, Some(v)))
    }

    fn value(self, points: &[(i64, Value)]) -> Option<(i64, Value)> {
        let (t0, v0) = points.first()?;
        let nums = || points.iter().filter_map(|(_, v)| v.as_f64());
        Some(match self {
            Func::Count => (*t0, Value::Integer(points.len() as i64)),
            Func::CountDistinct => {
                let mut values: Vec<&Value> = points.iter().map(|(_, v)| v).collect();
                values.sort_by(|a, b| cmp(a, b));
                values.dedup_by(|a, b| a == b);
                (*t0, Value::Integer(values.len() as i64))
            }
            Func::Mean => {
                let n = points.len() as f64;
                // InfluxDB's mean is a running sum divided by the count.
                (*t0, Value::Float(nums().sum::<f64>() / n))
            }
            Func::Sum => (*t0, sum(points.iter().map(|(_, v)| v))?),
            Func::First | Func::Last | Func::Min | Func::Max => {
                let agg = match self {
                    Func::First => Aggregate::First,
                    Func::Last => Aggregate::Last,
                    Func::Min => Aggregate::Min,
                    _ => Aggregate::Max,
                };
                let mut best = (*t0, v0.clone());
                for (t, v) in &points[1..] {
                    let better = match (agg, v, &best.1) {
                        // `replaces` orders booleans; numbers here by value.
                        (Aggregate::Min, a, b) if !matches!(a, Value::Bool(_)) => {
                            less(a, b) || (!less(b, a) && *t < best.0)
                        }
                        (Aggregate::Max, a, b) if !matches!(a, Value::Bool(_)) => {
                            less(b, a) || (!less(a, b) && *t < best.0)
                        }
                        _ => replaces(agg, &best, *t, v),
                    };
                    if better {
                        best = (*t, v.clone());
                    }
                }
                best
            }
            Func::Percentile(p) => {
                let mut sorted: Vec<&(i64, Value)> = points.iter().collect();
                sorted.sort_by(|a, b| cmp(&a.1, &b.1));
                let i = percentile_index(sorted.len(), p)?;
                sorted[i].clone()
            }
            Func::Median => {
                let mut v: Vec<f64> = nums().collect();
                v.sort_by(f64::total_cmp);
                let n = v.len();
                let m = if n % 2 == 1 {
                    v[n / 2]
                } else {
                    v[n / 2 - 1] + (v[n / 2] - v[n / 2 - 1]) / 2.0
                };
                (*t0, Value::Float(m))
            }
            Func::Mode => {
                let mut sorted: Vec<&Value> = points.iter().map(|(_, v)| v).collect();
                sorted.sort_by(|a, b| cmp(a, b));
                let (mut best, mut best_n) = (sorted[0], 0);
                let mut i = 0;
                while i < sorted.len() {
                    let mut j = i;
                    while j < sorted.len() && sorted[j] == sorted[i] {
                        j += 1;
                    }
                    if j - i > best_n {
                        best = sorted[i];
                        best_n = j - i;
                    }
                    i = j;
                }
                (*t0, best.clone())
            }
            Func::Spread => {
                let first = &points[0].1;
                let (mut lo, mut hi) = (first, first);
                for (_, v) in points {
                    if less(v, lo) {
                        lo = v;
                    }
                    if less(hi, v) {
                        hi = v;
                    }
                }
                (*t0, arith(hi, lo, Op::Sub)?)
            }
            Func::Stddev => {
                let v: Vec<f64> = nums().collect();
                if v.len() < 2 {
                    return None;
                }
                let n = v.len() as f64;
                let mean = v.iter().sum::<f64>() / n;
                let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
                (*t0, Value::Float(var.sqrt()))
            }
        })
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Float(_) => "floats",
        Value::Integer(_) => "integers",
        Value::Unsigned(_) => "unsigned integers",
        Value::Bool(_) => "booleans",
        Value::String(_) => "strings",
    }
}

fn less(a: &Value, b: &Value) -> bool {
    cmp(a, b) == std::cmp::Ordering::Less
}

/// Orders values of one type (numbers across types by value).
pub fn cmp(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering::Equal;
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => x.cmp(y),
        (Value::Unsigned(x), Value::Unsigned(y)) => x.cmp(y),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Equal,
        },
    }
}

fn sum<'a>(mut values: impl Iterator<Item = &'a Value>) -> Option<Value> {
    let mut acc = values.next()?.clone();
    for v in values {
        acc = arith(&acc, v, Op::Add)?;
    }
    Some(acc)
}

/// A transformation of a series of points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    Derivative {
        unit_ns: Option<i64>,
        non_negative: bool,
    },
    Difference {
        non_negative: bool,
    },
    MovingAverage(usize),
    CumulativeSum,
}

impl Transform {
    pub fn is_transform(name: &str) -> bool {
        matches!(
            name,
            "derivative"
                | "non_negative_derivative"
                | "difference"
                | "non_negative_difference"
                | "moving_average"
                | "cumulative_sum"
        )
    }

    /// How many intervals before the range (after it, descending) the input is read
    /// from: InfluxDB 1.x shifts the start by one interval for these (a moving average
    /// of n too: its first windows are not full), not for `cumulative_sum`.
    pub fn lead(self) -> i64 {
        match self {
            Transform::Derivative { .. }
            | Transform::Difference { .. }
            | Transform::MovingAverage(_) => 1,
            Transform::CumulativeSum => 0,
        }
    }

    /// Applies the transformation to non-null points in time order. `default_unit` is
    /// the derivative's unit when the call names none: the `GROUP BY time` interval,
    /// or a second.
    /// With `ascending` false the points come newest first (`ORDER BY time DESC`): a
    /// derivative's elapsed time is then counted backwards, as InfluxDB does.
    pub fn apply(
        self,
        points: &[(i64, Value)],
        default_unit: i64,
        ascending: bool,
    ) -> Vec<(i64, Value)> {
        let mut out = Vec::new();
        match self {
            Transform::Derivative {
                unit_ns,
                non_negative,
            } => {
                let unit = unit_ns.unwrap_or(default_unit) as f64;
                let mut prev: Option<&(i64, Value)> = None;
                for p in points {
                    // A point at the time of the previous one does not advance the stream.
                    if prev.is_some_and(|q| q.0 == p.0) {
                        continue;
                    }
                    if let Some(q) = prev
                        && let (Some(a), Some(b)) = (p.1.as_f64(), q.1.as_f64())
                    {
                        let diff = a - b;
                        let elapsed = if ascending { p.0 - q.0 } else { q.0 - p.0 } as f64;
                        if !(non_negative && diff < 0.0) {
                            out.push((p.0, Value::Float(diff / (elapsed / unit))));
                        }
                    }
                    prev = Some(p);
                }
            }
            Transform::Difference { non_negative } => {
                let mut prev: Option<&(i64, Value)> = None;
                for p in points {
                    if prev.is_some_and(|q| q.0 == p.0) {
                        continue;
                    }
                    if let Some(q) = prev
                        && let Some(d) = arith(&p.1, &q.1, Op::Sub)
                        && !(non_negative && d.as_f64().is_some_and(|x| x < 0.0))
                    {
                        out.push((p.0, d));
                    }
                    prev = Some(p);
                }
            }
            Transform::MovingAverage(n) => {
                let mut window: std::collections::VecDeque<f64> = Default::default();
                let mut last_t = None;
                for (t, v) in points {
                    if last_t == Some(*t) {
                        continue;
                    }
                    last_t = Some(*t);
                    let Some(x) = v.as_f64() else { continue };
                    window.push_back(x);
                    if window.len() > n {
                        window.pop_front();
                    }
                    if window.len() == n {
                        out.push((*t, Value::Float(window.iter().sum::<f64>() / n as f64)));
                    }
                }
            }
            Transform::CumulativeSum => {
                let mut acc: Option<Value> = None;
                for (t, v) in points {
                    let next = match &acc {
                        None => Some(v.clone()),
                        Some(a) => arith(a, v, Op::Add),
                    };
                    if let Some(n) = next {
                        acc = Some(n.clone());
                        out.push((*t, n));
                    }
                }
            }
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
}

/// `a op b` as InfluxQL computes it: integers stay integers except through `/`, which
/// gives a float; dividing by zero gives 0; anything with a float is a float.
pub fn arith(a: &Value, b: &Value, op: Op) -> Option<Value> {
    match (a, b) {
        (Value::Integer(x), Value::Integer(y)) => Some(match op {
            Op::Add => Value::Integer(x.wrapping_add(*y)),
            Op::Sub => Value::Integer(x.wrapping_sub(*y)),
            Op::Mul => Value::Integer(x.wrapping_mul(*y)),
            Op::Div if *y == 0 => Value::Float(0.0),
            Op::Div => Value::Float(*x as f64 / *y as f64),
            Op::Mod if *y == 0 => Value::Integer(0),
            Op::Mod => Value::Integer(x.wrapping_rem(*y)),
            Op::And => Value::Integer(x & y),
            Op::Or => Value::Integer(x | y),
            Op::Xor => Value::Integer(x ^ y),
        }),
        (Value::Bool(x), Value::Bool(y)) => Some(Value::Bool(match op {
            Op::And => x & y,
            Op::Or => x | y,
            Op::Xor => x ^ y,
            _ => return None,
        })),
        _ => {
            let (x, y) = (a.as_f64()?, b.as_f64()?);
            Some(Value::Float(match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div if y == 0.0 => 0.0,
                Op::Div => x / y,
                Op::Mod => x % y,
                _ => return None,
            }))
        }
    }
}

/// One-argument math functions (InfluxDB 1.x's `abs`, `sqrt`, …).
pub fn math1(name: &str, v: &Value) -> Option<Value> {
    if let Value::Integer(i) = v {
        match name {
            "abs" => return Some(Value::Integer(i.wrapping_abs())),
            "ceil" | "floor" | "round" => return Some(v.clone()),
            _ => {}
        }
    }
    let x = v.as_f64()?;
    Some(Value::Float(match name {
        "abs" => x.abs(),
        "ceil" => x.ceil(),
        "floor" => x.floor(),
        "round" => x.round(),
        "sqrt" => x.sqrt(),
        "ln" => x.ln(),
        "log2" => x.log2(),
        "log10" => x.log10(),
        "exp" => x.exp(),
        _ => return None,
    }))
}

pub fn is_math(name: &str) -> bool {
    matches!(
        name,
        "abs" | "ceil" | "floor" | "round" | "sqrt" | "ln" | "log2" | "log10" | "exp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[f64]) -> Vec<(i64, Value)> {
        v.iter()
            .enumerate()
            .map(|(i, x)| (i as i64 * 10, Value::Float(*x)))
            .collect()
    }

    #[test]
    fn aggregates_by_hand() {
        let p = pts(&[4.0, 1.0, 3.0, 2.0]);
        let f = |func: Func| {
            func.compute(&p)
                .map(|(t, v)| (t, v.unwrap().as_f64().unwrap()))
        };
        assert_eq!(f(Func::Mean), Some((0, 2.5)));
        assert_eq!(f(Func::Median), Some((0, 2.5)));
        assert_eq!(f(Func::Spread), Some((0, 3.0)));
        assert_eq!(f(Func::Min), Some((10, 1.0)));
        assert_eq!(f(Func::Max), Some((0, 4.0)));
        assert_eq!(f(Func::Last), Some((30, 2.0)));
        assert_eq!(f(Func::Percentile(50.0)), Some((30, 2.0)));
        // Sample standard deviation of 1..4: sqrt(5/3).
        let sd = f(Func::Stddev).unwrap().1;
        assert!((sd - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(Func::Stddev.compute(&pts(&[1.0])), Some((0, None)));
    }

    #[test]
    fn transforms_by_hand() {
        let p = pts(&[1.0, 3.0, 2.0, 6.0]);
        let d = Transform::Difference { non_negative: true }.apply(&p, 1, true);
        assert_eq!(d, vec![(10, Value::Float(2.0)), (30, Value::Float(4.0))]);
        let d = Transform::Derivative {
            unit_ns: None,
            non_negative: false,
        }
        .apply(&p, 10, true);
        assert_eq!(d.len(), 3);
        assert_eq!(d[1], (20, Value::Float(-1.0)));
        let m = Transform::MovingAverage(2).apply(&p, 1, true);
        assert_eq!(m[0], (10, Value::Float(2.0)));
        assert_eq!(
            arith(&Value::Integer(3), &Value::Integer(2), Op::Div),
            Some(Value::Float(1.5))
        );
        assert_eq!(
            arith(&Value::Float(3.0), &Value::Integer(0), Op::Div),
            Some(Value::Float(0.0))
        );
    }
}
