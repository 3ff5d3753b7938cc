//! Backend placeholder (being written).
