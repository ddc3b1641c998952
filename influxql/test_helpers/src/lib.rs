//! The one macro of InfluxData's `test_helpers` crate the parser's tests use.

/// Asserts that `$OPERATION` fails with an error matching the pattern (and guard).
#[macro_export]
macro_rules! assert_error {
    ($OPERATION: expr, $(|)? $( $ERROR_TYPE:pat_param )|+ $( if $GUARD: expr )? $(,)?) => {
        let err = $OPERATION.unwrap_err();
        assert!(
            matches!(err, $( $ERROR_TYPE )|+ $( if $GUARD )?),
            "Expected {}, but got {:?}",
            stringify!($( $ERROR_TYPE )|+ $( if $GUARD )?),
            err
        );
    };
}
