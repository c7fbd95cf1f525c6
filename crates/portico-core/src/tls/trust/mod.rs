//! Trust stores (placeholder while being written).
