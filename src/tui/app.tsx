/**
 * The TUI: header, the changes list (with the diff pane under it when open), or the top writers,
 * or the help, then the footer. The frame is one line shorter than the terminal and exactly as
 * wide, so nothing scrolls or wraps; it follows resizes.
 */
import { Box, useApp } from 'ink';
import { useCallback, useMemo, useState } from 'react';
import type { Control } from '../control/protocol.js';
import { ChangesView } from './changes/changes-view.js';
import { useChangesInput } from './changes/use-changes-input.js';
import { useChangesState } from './changes/use-changes-state.js';
import { useConfirmInput } from './confirm/use-confirm-input.js';
import { useConfirmState } from './confirm/use-confirm-state.js';
import { DiffView } from './diff/diff-view.js';
import { useDiffInput } from './diff/use-diff-input.js';
import { useDiffState } from './diff/use-diff-state.js';
import { useEvents } from './events/use-events.js';
import { Footer, FOOTER_HEIGHT, type View } from './footer.js';
import { Help } from './help.js';
import { errorMessage, type Message } from './messages.js';
import { Header, HEADER_HEIGHT } from './status/header.js';
import { useStatusState } from './status/use-status-state.js';
import { colorFromEnv, makeTheme, ThemeContext } from './theme.js';
import { TopView } from './top/top-view.js';
import { useTopInput } from './top/use-top-input.js';
import { useTopState } from './top/use-top-state.js';
import { useActions } from './use-actions.js';
import { KeysProvider, useKeys } from './use-keys.js';
import { useTerminalSize } from './use-terminal-size.js';

export interface AppProps {
  control: Control;
  /** Colours (default: unless NO_COLOR is set and non-empty). */
  color?: boolean;
  /** Called with the exit code just before the app exits. */
  onExit?: (code: number) => void;
  statusIntervalMs?: number;
}

type Overlay = 'help' | 'top' | 'filter' | null;

/** Rows of the list and of the diff pane (each also has a title line). */
export function bodyLayout(rows: number, diffOpen: boolean): { frame: number; body: number; list: number; diff: number } {
  const frame = Math.max(HEADER_HEIGHT + FOOTER_HEIGHT + 4, rows - 1);
  const body = frame - HEADER_HEIGHT - FOOTER_HEIGHT;
  if (!diffOpen) return { frame, body, list: body - 1, diff: 0 };
  const list = Math.max(1, Math.floor((body - 2) * 0.4));
  return { frame, body, list, diff: Math.max(1, body - 2 - list) };
}

export function App(props: AppProps) {
  return (
    <KeysProvider>
      <Screen {...props} />
    </KeysProvider>
  );
}

function Screen({ control, color = colorFromEnv(), onExit, statusIntervalMs }: AppProps) {
  const theme = useMemo(() => makeTheme(color), [color]);
  const { exit } = useApp();
  const { columns, rows } = useTerminalSize();
  const width = Math.max(20, columns);
  const [message, setMessage] = useState<Message | null>(null);
  const [overlay, setOverlay] = useState<Overlay>(null);
  const [diffFocus, setDiffFocus] = useState(false);
  const onError = useCallback((err: unknown) => setMessage(errorMessage(err)), []);

  const status = useStatusState(control, onError, statusIntervalMs);
  const diff = useDiffState(control, onError);
  const layout = bodyLayout(rows, diff.path !== null);
  const changes = useChangesState({ control, height: layout.list, onError });
  const top = useTopState(control, { isActive: overlay === 'top', limit: Math.max(1, layout.body - 4), onError });
  const confirm = useConfirmState();

  const refresh = () => {
    status.refresh();
    changes.refresh();
    if (overlay === 'top') top.refresh();
  };
  const { progress, resetProgress } = useEvents(control, {
    onChanged: refresh,
    onFlushDone: (event) => {
      status.refresh();
      if (event.event === 'flush-failed' && actions.busy === null) setMessage({ kind: 'error', text: `a flush failed: ${event.error}`, hint: 'the changes stay in RAM and are retried' });
    },
    onLost: (text) => setMessage({ kind: 'error', text, hint: 'restart persistd, then persistctl (q quits)' }),
    onError,
  });
  const actions = useActions({
    control,
    changes,
    confirm,
    mountpoint: status.status?.mountpoint ?? null,
    say: setMessage,
    // A commit's progress line counts its own batches only (reset now: its events may come before any effect runs).
    onStart: (what) => {
      if (what === 'commit') resetProgress();
    },
    refresh: () => {
      refresh();
      if (diff.path !== null) diff.open(diff.path);
    },
  });

  const quit = () => {
    onExit?.(0);
    exit();
  };
  const closeDiff = () => {
    diff.close();
    setDiffFocus(false);
  };

  const asking = confirm.question !== null;
  const view: View = overlay ?? (diffFocus && diff.path !== null ? 'diff' : 'list');
  useConfirmInput(confirm);
  useChangesInput(changes, { isActive: !asking && view === 'list' });
  useDiffInput(diff, { isActive: !asking && view === 'diff', height: layout.diff, onClose: closeDiff });
  useTopInput(top, { isActive: !asking && view === 'top', onClose: () => setOverlay(null) });
  useKeys((input, key) => {
    if (key.ctrl && input === 'c') quit();
  });
  useKeys((_input, key) => (key.escape ? setOverlay(null) : undefined), { isActive: !asking && view === 'filter' });
  useKeys(
    (input) => {
      if (input === 'q') quit();
      else setOverlay(null);
    },
    { isActive: !asking && view === 'help' },
  );
  useKeys(
    (input, key) => {
      if (input === 'q') quit();
      else if (input === '?') setOverlay('help');
      else if (view === 'top') return;
      else if (input === 't') setOverlay('top');
      else if (input === '/') setOverlay('filter');
      else if (key.return) {
        if (changes.selected) {
          diff.open(changes.selected.path);
          setDiffFocus(true);
        } else setMessage({ kind: 'error', text: 'no change selected' });
      } else if (key.tab) setDiffFocus((f) => diff.path !== null && !f);
      else if (key.escape && diff.path !== null) closeDiff();
      else if (key.escape && changes.marks.size > 0) changes.clearMarks();
      else if (input === 'c') actions.commit();
      else if (input === 'C') actions.commitAll();
      else if (input === 'd') actions.discard();
      else if (input === 'r') actions.revert();
      else if (input === 'R') actions.reset();
    },
    { isActive: !asking && (view === 'list' || view === 'diff' || view === 'top') },
  );

  const applyFilter = (value: string) => {
    let prefix = value.trim();
    if (!prefix.startsWith('/')) prefix = `/${prefix}`;
    if (prefix.length > 1) prefix = prefix.replace(/\/+$/, '') || '/';
    setOverlay(null);
    setMessage(null);
    changes.setPrefix(prefix);
  };

  let body;
  if (overlay === 'help') body = <Help width={width} height={layout.body} />;
  else if (overlay === 'top') body = <TopView state={top} width={width} height={layout.body} />;
  else
    body = (
      <Box flexDirection="column" width={width} height={layout.body} overflow="hidden">
        <ChangesView state={changes} width={width} height={layout.list} focused={view !== 'diff'} />
        {diff.path !== null ? <DiffView state={diff} width={width} height={layout.diff} focused={view === 'diff'} /> : null}
      </Box>
    );

  return (
    <ThemeContext.Provider value={theme}>
      <Box flexDirection="column" width={width} height={layout.frame} overflow="hidden">
        <Header status={status.status} at={status.at} width={width} />
        {body}
        <Footer
          width={width}
          view={view}
          question={confirm.question}
          filter={overlay === 'filter' ? { prefix: changes.prefix, onSubmit: applyFilter } : null}
          busy={actions.busy}
          progress={progress}
          message={message}
          selectedPath={changes.selected?.path}
        />
      </Box>
    </ThemeContext.Provider>
  );
}
