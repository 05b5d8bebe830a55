-- | An unmodified program for `liveprof-monitor --exec`: `plain ROUNDS PAUSE_MS`.
module Main (main) where

import GHC.Conc (labelThread, myThreadId)
import System.Environment (getArgs)
import Work (work)

main :: IO ()
main = do
  args <- getArgs
  let (rounds, pauseMs) = case args of
        (a : b : _) -> (read a, read b)
        _ -> (20, 10)
  me <- myThreadId
  labelThread me "main"
  work rounds pauseMs
  putStrLn "plain done"
