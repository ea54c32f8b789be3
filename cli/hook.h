/* mcsctl hook: argv[0] is "hook". */
#pragma once

int hook_main(int argc, char **argv);
