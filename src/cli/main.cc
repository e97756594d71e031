#include <cstdio>

#include "flopsmeter/version.h"

int main() {
  std::printf("flopsmeter %s\n", FLOPSMETER_VERSION_STRING);
  return 0;
}
