#!/usr/bin/env bash
# Builds the DocC documentation of Kiln and KilnLLVM with warnings as errors, and fails if a
# public symbol declared in their sources has no doc comment (Swift's synthesized members —
# Codable, Equatable, RawRepresentable — have no source and are not counted, nor are extensions).
# Output: .build/plugins/Swift-DocC/outputs/{Kiln,KilnLLVM}.doccarchive
set -euo pipefail
cd "$(dirname "$0")/.."
swift package generate-documentation --target Kiln --target KilnLLVM --warnings-as-errors
python3 - <<'PY'
import glob, json, sys
missing = []
for path in sorted(glob.glob(".build/*/extracted-symbols/*/Kiln*/Kiln*.symbols.json")):
    for symbol in json.load(open(path))["symbols"]:
        # Extensions of other modules' types (`extension Int: DimsConvertible`) are not declarations.
        if "docComment" not in symbol and "location" in symbol and symbol["kind"]["identifier"] != "swift.extension":
            location = symbol["location"]
            where = location["uri"].split("/Sources/", 1)[-1]
            missing.append(f"Sources/{where}:{location['position']['line'] + 1}: {'.'.join(symbol['pathComponents'])}")
if missing:
    print(f"{len(missing)} public symbols have no doc comment:", *missing, sep="\n  ")
    sys.exit(1)
print("every public symbol of Kiln and KilnLLVM is documented")
PY
