//! `WHERE` conditions, once the time range is taken out of them
//! (`influxdb_influxql_parser::time_range::split_cond`): comparisons of tags (which
//! select series) and of fields (which select points), joined by `AND`/`OR`.
//!
//! InfluxQL's rules: a tag a series lacks reads as `''`; a comparison with a field a
//! point lacks is false (whatever the operator); numbers compare as numbers whatever
//! their type; a regular expression matches anywhere unless anchored.

use super::Fail;
use influxdb_influxql_parser::expression::{ConditionalExpression, ConditionalOperator, Expr};
use influxdb_influxql_parser::literal::Literal;
use regex::Regex;
use std::cmp::Ordering;
use streamswarm_tsdb::query::Value;

/// What a name in a condition refers to, for one series or point.
pub enum Operand<'a> {
    Tag(&'a str),
    Field(Option<&'a Value>),
}

/// A condition compiled once: regular expressions built, literals typed.
#[derive(Debug)]
pub enum Cond {
    True,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Compare {
        name: String,
        op: ConditionalOperator,
        rhs: Rhs,
    },
}

#[derive(Debug)]
pub enum Rhs {
    Literal(Value),
    Regex(Regex),
}

impl Cond {
    pub fn compile(c: &ConditionalExpression) -> Result<Cond, Fail> {
        use ConditionalOperator as Op;
        match c {
            ConditionalExpression::Grouped(inner) => Cond::compile(inner),
            ConditionalExpression::Expr(e) => match strip(e) {
                Expr::Literal(Literal::Boolean(true)) => Ok(Cond::True),
                other => Err(Fail::unsupported(format!(
                    "the condition {other} (compare a tag or field with a value)"
                ))),
            },
            ConditionalExpression::Binary(b) => match b.op {
                Op::And => Ok(Cond::And(
                    Box::new(Cond::compile(&b.lhs)?),
                    Box::new(Cond::compile(&b.rhs)?),
                )),
                Op::Or => Ok(Cond::Or(
                    Box::new(Cond::compile(&b.lhs)?),
                    Box::new(Cond::compile(&b.rhs)?),
                )),
                Op::In => Err(Fail::unsupported("IN in a WHERE clause".to_string())),
                op => {
                    let (name, rhs, op) = match (operand(&b.lhs), operand(&b.rhs)) {
                        (Some(Side::Name(n)), Some(Side::Lit(l))) => (n, l, op),
                        (Some(Side::Lit(l)), Some(Side::Name(n))) => (n, l, flip(op)),
                        _ => {
                            return Err(Fail::unsupported(format!(
                                "the condition {c} (compare a tag or field with a value)"
                            )));
                        }
                    };
                    let rhs = match (op, rhs) {
                        (Op::EqRegex | Op::NotEqRegex, Literal::Regex(r)) => Rhs::Regex(
                            Regex::new(r.as_str())
                                .map_err(|e| Fail::Invalid(format!("invalid regex {r}: {e}")))?,
                        ),
                        (Op::EqRegex | Op::NotEqRegex, _) => {
                            return Err(Fail::Invalid(format!(
                                "{c}: =~ and !~ take a regular expression"
                            )));
                        }
                        (_, Literal::Regex(_)) => {
                            return Err(Fail::Invalid(format!(
                                "{c}: a regular expression needs =~ or !~"
                            )));
                        }
                        (_, l) => Rhs::Literal(literal_value(&l).ok_or_else(|| {
                            Fail::unsupported(format!("the literal {l} in a condition"))
                        })?),
                    };
                    Ok(Cond::Compare { name, op, rhs })
                }
            },
        }
    }

    /// The names the condition compares.
    pub fn names(&self, out: &mut Vec<String>) {
        match self {
            Cond::True => {}
            Cond::And(a, b) | Cond::Or(a, b) => {
                a.names(out);
                b.names(out);
            }
            Cond::Compare { name, .. } => {
                if !out.contains(name) {
                    out.push(name.clone());
                }
            }
        }
    }

    pub fn eval<'a>(&self, lookup: &impl Fn(&str) -> Operand<'a>) -> bool {
        use ConditionalOperator as Op;
        match self {
            Cond::True => true,
            Cond::And(a, b) => a.eval(lookup) && b.eval(lookup),
            Cond::Or(a, b) => a.eval(lookup) || b.eval(lookup),
            Cond::Compare { name, op, rhs } => match (lookup(name), rhs) {
                (Operand::Tag(t), Rhs::Regex(r)) => r.is_match(t) == (*op == Op::EqRegex),
                (Operand::Field(Some(Value::String(t))), Rhs::Regex(r)) => {
                    r.is_match(t) == (*op == Op::EqRegex)
                }
                (Operand::Field(_), Rhs::Regex(_)) => false,
                (Operand::Tag(t), Rhs::Literal(Value::String(s))) => compare(*op, t.cmp(s)),
                (Operand::Tag(_), Rhs::Literal(_)) => false,
                (Operand::Field(None), _) => false,
                (Operand::Field(Some(v)), Rhs::Literal(l)) => {
                    order(v, l).is_some_and(|o| compare(*op, o))
                }
            },
        }
    }
}

fn compare(op: ConditionalOperator, o: Ordering) -> bool {
    use ConditionalOperator as Op;
    match op {
        Op::Eq => o == Ordering::Equal,
        Op::NotEq => o != Ordering::Equal,
        Op::Lt => o == Ordering::Less,
        Op::LtEq => o != Ordering::Greater,
        Op::Gt => o == Ordering::Greater,
        Op::GtEq => o != Ordering::Less,
        _ => false,
    }
}

/// How a value compares with a literal: numbers as numbers, strings and booleans with
/// their own kind; other pairs do not compare.
fn order(v: &Value, l: &Value) -> Option<Ordering> {
    match (v, l) {
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Integer(a), Value::Integer(b)) => Some(a.cmp(b)),
        _ => v.as_f64()?.partial_cmp(&l.as_f64()?),
    }
}

fn flip(op: ConditionalOperator) -> ConditionalOperator {
    use ConditionalOperator as Op;
    match op {
        Op::Lt => Op::Gt,
        Op::LtEq => Op::GtEq,
        Op::Gt => Op::Lt,
        Op::GtEq => Op::LtEq,
        other => other,
    }
}

enum Side {
    Name(String),
    Lit(Literal),
}

fn strip(e: &Expr) -> &Expr {
    match e {
        Expr::Nested(inner) => strip(inner),
        other => other,
    }
}

fn operand(c: &ConditionalExpression) -> Option<Side> {
    match c {
        ConditionalExpression::Grouped(inner) => operand(inner),
        ConditionalExpression::Expr(e) => match strip(e) {
            Expr::VarRef(v) => Some(Side::Name(v.name.as_str().to_owned())),
            Expr::Literal(l) => Some(Side::Lit(l.clone())),
            _ => None,
        },
        ConditionalExpression::Binary(_) => None,
    }
}

/// A literal as a value (durations and timestamps are not values here).
pub fn literal_value(l: &Literal) -> Option<Value> {
    Some(match l {
        Literal::Integer(i) => Value::Integer(*i),
        Literal::Unsigned(u) => Value::Unsigned(*u),
        Literal::Float(f) => Value::Float(*f),
        Literal::String(s) => Value::String(s.clone()),
        Literal::Boolean(b) => Value::Bool(*b),
        _ => return None,
    })
}
