// Drives `rewind dap` over stdio with the Debug Adapter Protocol's own
// client library (@vscode/debugadapter-testsupport), as an editor would:
// launch, breakpoints (one with a condition), stepping both ways, the
// stack, variables, evaluate in the past, goto, disconnect.
//
// node session.mjs REWIND RECORDING SOURCE PROGRAM
//   RECORDING  a crash recording of SOURCE (bank.py in tests/all/dap.rs)
//   PROGRAM    the same script, for a launch that records it first
// Prints "ok" when every check passed; an assertion's failure exits 1.

import assert from 'node:assert/strict';
import path from 'node:path';
import testsupport from '@vscode/debugadapter-testsupport';

const { DebugClient } = testsupport;
const [rewind, recording, source, program] = process.argv.slice(2);

async function client() {
  const dc = new DebugClient(rewind, 'dap', 'rewind', {}, true);
  dc.defaultTimeout = 120000;
  await dc.start();
  return dc;
}

async function top(dc) {
  const trace = await dc.stackTraceRequest({ threadId: 1 });
  return trace.body.stackFrames;
}

async function value(dc, expression, frameId) {
  const answer = await dc.evaluateRequest({ expression, frameId, context: 'repl' });
  return answer.body.result;
}

async function move(dc, request, reason) {
  const stopped = dc.waitForEvent('stopped');
  await request;
  const event = await stopped;
  assert.equal(event.body.reason, reason, JSON.stringify(event.body));
  return top(dc);
}

// A recording, a breakpoint, and every way of moving.
{
  const dc = await client();
  const init = await dc.initializeRequest({ adapterID: 'rewind', linesStartAt1: true, columnsStartAt1: true });
  assert.equal(init.body.supportsStepBack, true);
  assert.equal(init.body.supportsConditionalBreakpoints, true);
  // Launch, set the breakpoint once initialized, and the run plays to it.
  await dc.hitBreakpoint({ recording }, { path: source, line: 10 });

  const threads = await dc.threadsRequest();
  assert.deepEqual(threads.body.threads.map((t) => t.id), [1]);
  let frames = await top(dc);
  assert.deepEqual(frames.map((f) => [f.name, f.line]), [
    ['Account.withdraw', 10], ['run', 16], ['<module>', 21],
  ]);
  assert.equal(frames[0].source.path, source);

  const scopes = await dc.scopesRequest({ frameId: frames[0].id });
  assert.equal(scopes.body.scopes[0].name, 'Locals');
  const locals = await dc.variablesRequest({ variablesReference: scopes.body.scopes[0].variablesReference });
  const named = Object.fromEntries(locals.body.variables.map((v) => [v.name, v.value]));
  assert.equal(named.amount, '10');
  assert.equal(named.order, "{'qty': 10, 'who': 'ann'}");
  const globals = scopes.body.scopes.find((s) => s.name === 'Globals');
  assert.ok(globals, JSON.stringify(scopes.body));
  // Containers open: their items as the recording kept them (the RustPython
  // guest's recordings keep them; the CPython guest's keep values as text).
  if (process.env.REWIND_STRUCTURED_VALUES !== '0') {
    const order = locals.body.variables.find((v) => v.name === 'order');
    assert.ok(order.variablesReference > 0, JSON.stringify(order));
    const items = await dc.variablesRequest({ variablesReference: order.variablesReference });
    assert.deepEqual(items.body.variables.map((v) => [v.name, v.value]), [["'qty'", '10'], ["'who'", "'ann'"]]);
    const runScopes = await dc.scopesRequest({ frameId: frames[1].id });
    const runLocals = await dc.variablesRequest({ variablesReference: runScopes.body.scopes[0].variablesReference });
    const amounts = runLocals.body.variables.find((v) => v.name === 'amounts');
    const listed = await dc.variablesRequest({ variablesReference: amounts.variablesReference });
    assert.deepEqual(listed.body.variables.map((v) => [v.name, v.value]), [['[0]', '10'], ['[1]', '20'], ['[2]', '30'], ['[3]', '50']]);
  }
  const globalNames = await dc.variablesRequest({ variablesReference: globals.variablesReference });
  assert.ok(globalNames.body.variables.some((v) => v.name === 'acct'), JSON.stringify(globalNames.body));

  // Expressions in the past: the values of this moment.
  assert.equal(await value(dc, 'self.balance', frames[0].id), '100');
  assert.equal(await value(dc, 'self.balance - amount', frames[0].id), '90');
  assert.equal(await value(dc, 'order["qty"] * 2', frames[0].id), '20');
  assert.equal(await value(dc, 'acct.balance', frames[1].id), '100');
  assert.equal(await value(dc, 'len(amounts)', frames[1].id), '4');
  await assert.rejects(dc.evaluateRequest({ expression: 'undefined_name', frameId: frames[0].id, context: 'repl' }), /NameError/);

  // Forwards to the next hit, then back.
  frames = await move(dc, dc.continueRequest({ threadId: 1 }), 'breakpoint');
  assert.equal(frames[0].line, 10);
  assert.equal(await value(dc, 'self.balance', frames[0].id), '90');
  frames = await move(dc, dc.reverseContinueRequest({ threadId: 1 }), 'breakpoint');
  assert.equal(await value(dc, 'self.balance', frames[0].id), '100');
  frames = await move(dc, dc.stepBackRequest({ threadId: 1 }), 'step');
  assert.deepEqual([frames[0].name, frames[0].line], ['Account.withdraw', 8]);
  frames = await move(dc, dc.nextRequest({ threadId: 1 }), 'step');
  assert.equal(frames[0].line, 10);
  frames = await move(dc, dc.stepOutRequest({ threadId: 1 }), 'step');
  assert.equal(frames[0].name, 'run');
  // Into the next call: its first event is the call, on the def line.
  for (let i = 0; i < 5 && frames[0].name !== 'Account.withdraw'; i++) {
    frames = await move(dc, dc.stepInRequest({ threadId: 1 }), 'step');
  }
  assert.deepEqual([frames[0].name, frames[0].line], ['Account.withdraw', 6]);
  assert.equal(await value(dc, 'amount', frames[0].id), '20');

  // Goto: every time line 7 ran; the third is the third withdrawal.
  const targets = await dc.gotoTargetsRequest({ source: { path: source }, line: 7 });
  assert.equal(targets.body.targets.length, 4, JSON.stringify(targets.body));
  frames = await move(dc, dc.gotoRequest({ threadId: 1, targetId: targets.body.targets[2].id }), 'goto');
  assert.equal(frames[0].line, 7);
  assert.equal(await value(dc, 'amount', frames[0].id), '30');

  // A condition: only where it holds.
  const set = await dc.setBreakpointsRequest({ source: { path: source }, breakpoints: [{ line: 10, condition: 'amount >= 30' }] });
  assert.equal(set.body.breakpoints[0].verified, true);
  await move(dc, dc.gotoRequest({ threadId: 1, targetId: targets.body.targets[0].id }), 'goto');
  frames = await move(dc, dc.continueRequest({ threadId: 1 }), 'breakpoint');
  assert.equal(await value(dc, 'amount', frames[0].id), '30');
  assert.equal(await value(dc, 'self.balance', frames[0].id), '70');
  // The next call (50) never reaches line 10: it raises, and continuing
  // stops at the crash.
  const stopped = dc.waitForEvent('stopped');
  await dc.continueRequest({ threadId: 1 });
  const crash = await stopped;
  assert.equal(crash.body.reason, 'exception');
  assert.match(crash.body.text, /ValueError: insufficient funds: 40 < 50/);
  frames = await top(dc);
  assert.deepEqual([frames[0].name, frames[0].line], ['Account.withdraw', 9]);

  const terminated = dc.waitForEvent('terminated');
  await dc.terminateRequest({});
  await terminated;
  // stop() disconnects, and the adapter ends.
  await dc.stop();
}

// A script: recorded first, its output shown, stopped at its crash.
{
  const dc = await client();
  const output = [];
  dc.on('output', (event) => output.push(event.body.output));
  await dc.initializeRequest({ adapterID: 'rewind' });
  const stopped = dc.waitForEvent('stopped');
  const initialized = dc.waitForEvent('initialized');
  // On the guest the suite runs on, named as a launch argument.
  await dc.launchRequest({ program, args: ['--verbose'], python: process.env.REWIND_PYTHON || 'rustpython' });
  await initialized;
  await dc.configurationDoneRequest();
  const event = await stopped;
  assert.equal(event.body.reason, 'exception');
  const frames = await top(dc);
  assert.deepEqual([frames[0].name, frames[0].line], ['Account.withdraw', 9]);
  assert.equal(await value(dc, 'self.balance', frames[0].id), '40');
  const said = output.join('');
  assert.match(said, /args: \['--verbose'\]/);
  assert.match(said, /ValueError: insufficient funds/);
  await dc.stop();
}

// The newest recording of a directory, as `rewind replay --last` opens it.
{
  const dc = await client();
  await dc.initializeRequest({ adapterID: 'rewind' });
  const stopped = dc.waitForEvent('stopped');
  const initialized = dc.waitForEvent('initialized');
  await dc.launchRequest({ last: true, out: path.dirname(recording) });
  await initialized;
  await dc.configurationDoneRequest();
  assert.equal((await stopped).body.reason, 'exception');
  const frames = await top(dc);
  assert.equal(await value(dc, 'amount', frames[0].id), '50');
  await dc.stop();
}

// Bad launches answer with an error, not a crash.
{
  const dc = await client();
  await dc.initializeRequest({ adapterID: 'rewind' });
  await assert.rejects(dc.launchRequest({}), /give "recording"/);
  await assert.rejects(dc.launchRequest({ recording: '/nonexistent.rwd' }), /nonexistent/);
  await assert.rejects(dc.launchRequest({ last: true, out: '/nonexistent' }), /no recordings in/);
  await assert.rejects(dc.launchRequest({ program, python: 'jython' }), /"python" is "rustpython" or "cpython"/);
  await dc.stop();
}

console.log('ok');
