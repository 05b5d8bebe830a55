-- | An unmodified program for `liveprof-monitor --exec`: `plain ROUNDS PAUSE_MS TICKS`.
module Main (main) where

import GHC.Conc (labelThread, myThreadId)
import System.Environment (getArgs)
import Work (work)

main :: IO ()
main = do
  args <- getArgs
  let (rounds, pauseMs, ticks) = case args of
        (a : b : c : _) -> (read a, read b, read c)
        _ -> (20, 10, 0)
  me <- myThreadId
  labelThread me "main"
  work rounds pauseMs ticks
  putStrLn "plain done"
