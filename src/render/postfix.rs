//! TODO: postfix target (being written).
