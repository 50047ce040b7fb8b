//! Unix signals on the loop: `ctrl_c` and signal streams (being built).
