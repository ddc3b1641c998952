//! Analytics (issue 12): forecasts, anomalies with their scope, health and causes,
//! measured on labelled incidents. So far the measuring side: [`eval`], the labelled
//! evaluation set; [`score`], how a detector's findings are judged against it; and
//! [`baseline`], the rolling 3-sigma rule the product must beat.

pub mod baseline;
pub mod eval;
pub mod score;
