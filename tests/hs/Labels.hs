-- | Live-capture test program built with the leech: `labels ROUNDS PAUSE_MS TICKS [attach]`.
-- With "attach" it switches the eventlog over to the leech after the first round (mode b).
module Main (main) where

import Control.Monad (when)
import GHC.Conc (labelThread, myThreadId)
import LiveprofLeech (attach)
import System.Environment (getArgs)
import System.IO
import Work (work)

main :: IO ()
main = do
  args <- getArgs
  let (rounds, pauseMs, ticks, mode) = case args of
        (a : b : c : rest) -> (read a, read b, read c, rest)
        _ -> (20, 10, 0, [])
  me <- myThreadId
  labelThread me "main"
  when (mode == ["attach"]) $ do
    work 1 0 0
    ok <- attach
    hPutStrLn stderr ("attached: " ++ show ok)
  work rounds pauseMs ticks
  putStrLn "labels done"
