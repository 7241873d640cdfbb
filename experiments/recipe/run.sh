#!/usr/bin/env bash
# The default recipe's ablation: each ingredient switched off in turn, and the real-data amplitude.
# Usage: experiments/recipe/run.sh ["<seeds>"] ["<shared overrides>"]   e.g. experiments/recipe/run.sh "0" "trainer.max_epochs=4"
cd "$(dirname "$0")/../.."
exec experiments/run_study.sh recipe "${1:-0 1 2}" "${2:-}"
