# The build phase of the weights mirror (weights_mirror.py). CodeBuild runs each line below
# as one command, all in one bash shell, after the lines the construct puts first:
#   set -euo pipefail; WORK=<scratch dir>; EXCLUDES=(--exclude '<pattern>' ...)
#   mirror_verify.py written to "$WORK/verify.py"
# Environment (the project's variables): HF_REPO, HF_REVISION, BUCKET, PREFIX, MANIFEST_KEY,
# KMS_KEY_ARN, and HF_TOKEN when a token secret is given.
# Keep every command on one line: lines are commands, comment and blank lines are dropped.

# The hub's file list (sizes, sha256, git blob ids), pinned to the commit the revision is now.
python3 "$WORK/verify.py" manifest --repo "$HF_REPO" --revision "$HF_REVISION" "${EXCLUDES[@]}" --out "$WORK/manifest.json"
SHA="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha"])' "$WORK/manifest.json")"
# huggingface_hub >= 1.0 renamed `huggingface-cli download` to `hf download`.
hf download "$HF_REPO" --revision "$SHA" "${EXCLUDES[@]}" --local-dir "$WORK/weights"
python3 "$WORK/verify.py" local --manifest "$WORK/manifest.json" --dir "$WORK/weights"
# --delete: files of an older revision must not stay beside the new ones.
aws s3 sync "$WORK/weights" "s3://$BUCKET/$PREFIX" --delete --exclude '.cache/*' --sse aws:kms --sse-kms-key-id "$KMS_KEY_ARN" --only-show-errors
aws s3api list-objects-v2 --bucket "$BUCKET" --prefix "$PREFIX" --output json > "$WORK/listing.json"
python3 "$WORK/verify.py" s3 --manifest "$WORK/manifest.json" --listing "$WORK/listing.json" --prefix "$PREFIX"
# The manifest last: the gate skips the copy when the manifest names this revision, so it
# must exist only beside a complete, verified prefix.
aws s3 cp "$WORK/manifest.json" "s3://$BUCKET/$MANIFEST_KEY" --sse aws:kms --sse-kms-key-id "$KMS_KEY_ARN" --only-show-errors
