#!/bin/sh
# Regenerates Tests/Fixtures/java/*.bin with a real JVM (JDK 17 here).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(mktemp -d)
javac -d "$build" $(find "$here/src" -name '*.java')
java -Dout="$here/../../java" -cp "$build" SpringFixtures
rm -rf "$build"
