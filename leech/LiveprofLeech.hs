-- | liveprof leech, attach mode (b): switch a running program's eventlog over to the leech.
--
-- Build with the leech library linked in (@liveprof-ghc@ does it; by hand:
-- @ghc -threaded -eventlog -rtsopts Main.hs -iPATH/leech PATH/libliveprof-leech.a@) and run
-- with the eventlog enabled (@+RTS -l@) and @LIVEPROF_SOCKET@ pointing at the monitor.
{-# LANGUAGE ForeignFunctionInterface #-}
module LiveprofLeech (attach) where

import Foreign.C.Types (CInt (..))

foreign import ccall safe "liveprof_leech_attach" c_attach :: IO CInt

-- | Ends the current eventlog writer (the +RTS -l file, if any) and streams the eventlog to
-- the monitor at @LIVEPROF_SOCKET@ from now on. True when the leech receives the eventlog
-- (also when it already did); False when @LIVEPROF_SOCKET@ is unset or the RTS refused.
attach :: IO Bool
attach = (/= 0) <$> c_attach
