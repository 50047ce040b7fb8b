//! Subprocesses on the loop: asyncio's `create_subprocess_exec` (being built).
