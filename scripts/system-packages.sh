#!/usr/bin/env bash
# The Debian packages the portal needs from the system: Pango (WeasyPrint draws the report
# PDF with it) and the fonts that cover every script a patient's name may be in
# (`packages`: .ci/run and the Dockerfile install the same list); and the PACS tools the
# demo and the tests run, never shipped in the image (`tools`). Installs the missing ones
# when run as root with apt-get; otherwise prints the command to run. `make install` runs it.
set -euo pipefail

packages=(
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 # layout, shaping, font subsets
    fonts-dejavu-core                # Latin, Greek, Cyrillic, Arabic, Hebrew
    fonts-droid-fallback             # Chinese, Japanese, Korean (small)
    fonts-lohit-deva                 # Devanagari
    fonts-noto-color-emoji           # emoji
)
# Outbound to the hospital, for the demo and the tests: Orthanc as the PACS (with its
# DICOMweb plugin), dcmtk's storescu (the benchmark's baseline) and dicom3tools' dciodvfy
# (checks every DICOM object the portal makes).
tools=(orthanc orthanc-dicomweb dcmtk dicom3tools)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for package in "${packages[@]}" "${tools[@]}"; do
        status="$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)"
        [ "$status" = "install ok installed" ] || missing+=("$package")
    done
else
    echo "system-packages: not a Debian system; install Pango and fonts covering CJK," \
        "Arabic, Devanagari and emoji (Debian names: ${packages[*]})" >&2
    exit 0
fi

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "system-packages: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
    echo "system-packages: missing ${missing[*]}; the report PDF (and the demo's and the" \
        "tests' PACS tools) need them. Run:" >&2
    echo "  sudo apt-get install --no-install-recommends ${missing[*]}" >&2
fi
