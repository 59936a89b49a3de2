//! guildhall
