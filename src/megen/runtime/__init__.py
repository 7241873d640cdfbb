"""What every command runs on: files written atomically (``io``), the package's folders (``paths``),
progress lines (``progress``), frame folders and videos (``video``), checkpoint loading
(``checkpoints``), the project's own errors (``errors``) and a user's mistakes turned into one line and exit
status 2 (``cli``)."""
