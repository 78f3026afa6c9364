//! `renkei-prefecture`: the prefecture replica's binary (being built up; see issue 4).

fn main() {}
