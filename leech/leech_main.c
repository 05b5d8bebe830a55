/* Attach mode (a): a C main() for programs linked with -no-hs-main (`liveprof-ghc` adds it).
 * It starts the RTS with every RTS option allowed and, when LIVEPROF_SOCKET is set, with the
 * leech as the eventlog writer from the first event. */
#include "liveprof_leech.h"

extern StgClosure ZCMain_main_closure;

int main(int argc, char *argv[])
{
    RtsConfig conf = defaultRtsConfig;
    conf.rts_opts_enabled = RtsOptsAll;
    liveprof_leech_configure(&conf);
    return hs_main(argc, argv, &ZCMain_main_closure, conf); /* does not return */
}
