//! Analytics (issue 12): forecasts, anomalies with their scope, health and causes,
//! measured on labelled incidents. So far: [`eval`], the labelled evaluation set the
//! detectors will be measured on.

pub mod eval;
