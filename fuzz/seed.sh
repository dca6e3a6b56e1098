#!/bin/sh
# Fills fuzz/corpus/<target>/ with the seed inputs: every scenario and manifest the
# project ships (scenarios/**, scenario/examples/**, scenario/tests/good-input/**,
# scenario/tests/bad-input/*). The corpus directory is not committed; run this first.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
for target in scenario manifests; do
    mkdir -p "$here/corpus/$target"
    find "$root/scenarios" "$root/scenario/examples" "$root/scenario/tests/good-input" \
        "$root/scenario/tests/bad-input" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) |
    while read -r f; do
        # Flatten the path into a file name so files with the same name do not clash.
        name=$(printf '%s' "${f#"$root"/}" | tr '/' '_')
        cp "$f" "$here/corpus/$target/seed-$name"
    done
done
echo "seeded $(ls "$here/corpus/scenario" | grep -c "^seed-") files per target into $here/corpus/"
