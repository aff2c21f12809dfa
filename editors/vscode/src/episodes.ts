// Command episodes: terminal commands (shell integration, VS Code 1.93+) and task processes end
// here and go to the server as `kenetic/didRunCommand`. The server decides what to keep.

import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import type { Kenetic } from './kenetic';

export interface DidRunCommandParams {
    command: string;
    cwd?: string;
    exitCode?: number;
    durationMs?: number;
    source: 'terminal' | 'task' | 'editor';
}

// The shell-execution API is newer than engines.vscode (^1.82): typed here, used when present.
interface ShellExecution {
    readonly commandLine: { readonly value: string };
    readonly cwd: vscode.Uri | undefined;
}
interface ShellExecutionStartEvent {
    readonly execution: ShellExecution;
}
interface ShellExecutionEndEvent {
    readonly execution: ShellExecution;
    readonly exitCode: number | undefined;
}
interface ShellIntegrationWindow {
    onDidStartTerminalShellExecution?: vscode.Event<ShellExecutionStartEvent>;
    onDidEndTerminalShellExecution?: vscode.Event<ShellExecutionEndEvent>;
}

export function send(kenetic: Kenetic, params: DidRunCommandParams): void {
    const client = kenetic.client;
    if (!params.command.trim() || !client || client.state !== State.Running) {
        return;
    }
    // drop undefined fields: the server refuses unknown or null-typed ones loudly
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined));
    client.sendNotification('kenetic/didRunCommand', clean).catch((err) => {
        kenetic.output.warn(`kenetic/didRunCommand: ${err}`);
    });
}

function taskCommand(task: vscode.Task): string {
    const exec = task.execution;
    const text = (v: string | vscode.ShellQuotedString) => (typeof v === 'string' ? v : v.value);
    if (exec instanceof vscode.ShellExecution) {
        if (exec.commandLine) {
            return exec.commandLine;
        }
        if (exec.command) {
            return [exec.command, ...(exec.args ?? [])].map(text).join(' ');
        }
    } else if (exec instanceof vscode.ProcessExecution) {
        return [exec.process, ...exec.args].join(' ');
    }
    return task.name;
}

function taskCwd(task: vscode.Task): string | undefined {
    const exec = task.execution;
    const cwd = exec instanceof vscode.ShellExecution || exec instanceof vscode.ProcessExecution ? exec.options?.cwd : undefined;
    const folder = typeof task.scope === 'object' ? task.scope.uri.fsPath : vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (cwd && !cwd.includes('${')) {
        return cwd;
    }
    return folder;
}

export function forwardCommandExits(context: vscode.ExtensionContext, kenetic: Kenetic): void {
    const win = vscode.window as unknown as ShellIntegrationWindow;
    if (win.onDidStartTerminalShellExecution && win.onDidEndTerminalShellExecution) {
        const started = new WeakMap<ShellExecution, number>();
        context.subscriptions.push(
            win.onDidStartTerminalShellExecution((e) => started.set(e.execution, Date.now())),
            win.onDidEndTerminalShellExecution((e) => {
                const t0 = started.get(e.execution);
                send(kenetic, {
                    command: e.execution.commandLine.value,
                    cwd: e.execution.cwd?.fsPath,
                    exitCode: e.exitCode,
                    durationMs: t0 === undefined ? undefined : Date.now() - t0,
                    source: 'terminal',
                });
            }),
        );
    } else {
        kenetic.output.info('this VS Code has no terminal shell-execution events: terminal commands are not captured');
    }

    const taskStarted = new WeakMap<vscode.TaskExecution, number>();
    context.subscriptions.push(
        vscode.tasks.onDidStartTaskProcess((e) => taskStarted.set(e.execution, Date.now())),
        vscode.tasks.onDidEndTaskProcess((e) => {
            const task = e.execution.task;
            const t0 = taskStarted.get(e.execution);
            send(kenetic, {
                command: taskCommand(task),
                cwd: taskCwd(task),
                exitCode: e.exitCode,
                durationMs: t0 === undefined ? undefined : Date.now() - t0,
                source: 'task',
            });
        }),
    );
}
