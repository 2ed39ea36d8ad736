#!/bin/sh
# The tests drive Debian's Chromium (preview browser tests). Install it, with
# fonts, when it is missing; as root directly, otherwise through sudo.
set -e
[ -x /usr/bin/chromium ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-liberation fonts-dejavu-core
