//! Types and parsers for arithmetic and conditional expressions.

pub use arithmetic::*;
pub use conditional::*;

/// Provides arithmetic expression parsing.
pub mod arithmetic;
/// Provides conditional expression parsing.
pub mod conditional;
/// Provides APIs to traverse an expression tree using closures.
pub mod walk;

#[cfg(test)]
mod test_util;
