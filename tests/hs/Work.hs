-- | The workload of the live-capture tests: rounds of labelled worker threads, each inside
-- START/STOP user events and emitting `ticks` extra user messages (to fill the RTS's 2 MiB
-- buffers), with a pause between rounds.
module Work (work) where

import Control.Concurrent
import Control.Exception (evaluate)
import Control.Monad
import Debug.Trace (traceEventIO, traceMarkerIO)
import GHC.Conc (labelThread)

work :: Int -> Int -> Int -> IO ()
work rounds pauseMs ticks =
  forM_ [1 .. rounds] $ \r -> do
    traceMarkerIO ("round " ++ show r)
    done <- forM [1 .. 4 :: Int] $ \k -> do
      d <- newEmptyMVar
      t <- forkIO $ do
        traceEventIO ("START job" ++ show k)
        x <- evaluate (sum [1 .. 20000 * k])
        forM_ [1 .. ticks] $ \i -> traceEventIO ("tick " ++ show i)
        traceEventIO ("STOP job" ++ show k)
        putMVar d x
      labelThread t ("worker-" ++ show k)
      return d
    mapM_ takeMVar done
    threadDelay (pauseMs * 1000)
