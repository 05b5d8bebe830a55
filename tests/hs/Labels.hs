-- | Live-capture test program built with the leech: `labels ROUNDS PAUSE_MS [attach]`.
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
  let (rounds, pauseMs, mode) = case args of
        (a : b : rest) -> (read a, read b, rest)
        _ -> (20, 10, [])
  me <- myThreadId
  labelThread me "main"
  when (mode == ["attach"]) $ do
    work 1 0
    ok <- attach
    hPutStrLn stderr ("attached: " ++ show ok)
  work rounds pauseMs
  putStrLn "labels done"
