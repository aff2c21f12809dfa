-- Headless Neovim test of the kenetic client (run by tests/editors/test_nvim.py).
--
-- env: KENETIC_REPO (repo root), KENETIC_BIN (the kenetic executable), KENETIC_TEST_WS (a
-- workspace holding app.py), KENETIC_TEST_RESULT (JSON file this writes: {steps: [...]}).
-- Ends with `qall!` when every step passed, `cquit 1` otherwise, `cquit 2` from the watchdog.

vim.g.loaded_python3_provider = 0
vim.g.loaded_node_provider = 0
vim.g.loaded_perl_provider = 0
vim.g.loaded_ruby_provider = 0
vim.o.swapfile = false
vim.o.shortmess = vim.o.shortmess .. 'F'

local repo = assert(os.getenv('KENETIC_REPO'), 'KENETIC_REPO')
local ws = assert(os.getenv('KENETIC_TEST_WS'), 'KENETIC_TEST_WS')
local result_path = assert(os.getenv('KENETIC_TEST_RESULT'), 'KENETIC_TEST_RESULT')
local kenetic_bin = assert(os.getenv('KENETIC_BIN'), 'KENETIC_BIN')

vim.opt.rtp:prepend(repo .. '/editors/nvim')
vim.cmd('filetype on')

local steps = {}

local function save()
  local f = assert(io.open(result_path, 'w'))
  f:write(vim.json.encode({ steps = steps }))
  f:close()
end

local function finish(code)
  save()
  for _, s in ipairs(steps) do
    io.stderr:write(('%s %s (%d ms)%s\n'):format(s.ok and 'PASS' or 'FAIL', s.name, s.ms, s.ok and '' or (': ' .. tostring(s.detail))))
  end
  if code == 0 then
    vim.cmd('qall!')
  else
    vim.cmd('cquit ' .. code)
  end
end

-- an uncaught error must never leave headless nvim hanging
local watchdog = assert(vim.uv.new_timer())
watchdog:start(55000, 0, vim.schedule_wrap(function()
  table.insert(steps, { name = 'watchdog', ok = false, ms = 55000, detail = 'the test did not finish in 55 s' })
  finish(2)
end))

local function step(name, fn)
  local t0 = vim.uv.hrtime()
  local ok, detail = xpcall(fn, debug.traceback)
  local ms = math.floor((vim.uv.hrtime() - t0) / 1e6)
  if type(detail) ~= 'string' and detail ~= nil then
    detail = vim.inspect(detail)
  end
  table.insert(steps, { name = name, ok = ok, ms = ms, detail = detail })
  save()
  return ok
end

local function wait(ms, cond, what)
  local ok = vim.wait(ms, cond, 50)
  if not ok then
    error('timed out waiting for ' .. what, 2)
  end
end

-- capture what the client tells the user
local messages = {}
local notify = vim.notify
vim.notify = function(msg, level, opts)
  table.insert(messages, { msg = msg, level = level })
  return notify(msg, level, opts)
end
local function message_matching(pattern, from)
  for i = from or 1, #messages do
    if tostring(messages[i].msg):match(pattern) then
      return messages[i].msg
    end
  end
end

-- vim.ui.select answers with the item `pick(items)` returns; the items shown are kept
local shown_items = {}
local pick = function(items)
  return items[1]
end
vim.ui.select = function(items, opts, on_choice)
  local texts = {}
  for _, item in ipairs(items) do
    table.insert(texts, (opts.format_item or tostring)(item))
  end
  shown_items = texts
  vim.schedule(function()
    local choice = pick(items, texts)
    local idx
    for i, item in ipairs(items) do
      if item == choice then
        idx = i
      end
    end
    on_choice(choice, idx)
  end)
end

require('kenetic').setup({
  cmd = { kenetic_bin, 'serve' },
  settings = { capture = { idleGapMs = 100 } },
})

local function client()
  return require('kenetic').client(0)
end

local function request(method, params)
  local c = assert(client(), 'no kenetic client')
  local answer, err = c:request_sync(method, params or vim.empty_dict(), 5000, 0)
  if not answer then
    error(method .. ': ' .. tostring(err))
  end
  if answer.err then
    error(method .. ': ' .. (answer.err.message or vim.inspect(answer.err)))
  end
  return answer.result
end

-- run() is a coroutine: sleep() and poll() give the main loop back, so keys fed with
-- nvim_feedkeys (insert mode, mappings) are really typed before the next check
local function sleep(ms)
  local co = coroutine.running()
  vim.defer_fn(function()
    local ok, err = coroutine.resume(co)
    if not ok then
      table.insert(steps, { name = 'run', ok = false, ms = 0, detail = err })
      finish(1)
    end
  end, ms)
  coroutine.yield()
end

local function poll(ms, cond, what)
  local deadline = vim.uv.now() + ms
  while not cond() do
    if vim.uv.now() > deadline then
      error('timed out waiting for ' .. what, 2)
    end
    sleep(50)
  end
end

local function episodes(kind)
  return request('kenetic/episodes', { kind = kind }).episodes
end

local function line(n)
  return vim.api.nvim_buf_get_lines(0, n - 1, n, false)[1]
end

local function run()
  step('attach to the workspace', function()
    vim.cmd.edit(vim.fn.fnameescape(ws .. '/app.py'))
    wait(15000, function()
      local c = client()
      return c and c.initialized
    end, 'the kenetic client')
    local c = client()
    assert(c.root_dir == ws, ('root %s, expected %s'):format(c.root_dir, ws))
    return c.server_info
  end)
  if not client() then
    return finish(1)
  end

  step('two similar edits are captured', function()
    -- typed as Ex commands, each one change (an insert-mode `cw` reaches the server as a
    -- deletion and an insertion more than the 100 ms idle gap apart: two bursts)
    vim.api.nvim_feedkeys(vim.keycode(':5s/print/logger.info/<CR>'), 'xt', false)
    vim.wait(400)
    vim.api.nvim_feedkeys(vim.keycode(':7s/print/logger.info/<CR>'), 'xt', false)
    vim.wait(400)
    assert(line(5) == '    logger.info(a)' and line(7) == '    logger.info(b)', 'edits not made: ' .. line(5) .. ' / ' .. line(7))
    wait(10000, function()
      return #episodes('edit') >= 2
    end, 'two edit episodes')
  end)

  local skill
  step(':Kenetic skills lists the skill (vim.ui.select, card shown)', function()
    wait(15000, function()
      local ok, answer = pcall(request, 'kenetic/skills', vim.empty_dict())
      if not ok and tostring(answer):match('Method Not Found') then
        error(answer)
      end
      skill = ok and answer and answer.skills and answer.skills[1]
      return skill ~= nil
    end, 'a learned skill in kenetic/skills')
    shown_items = {}
    local commands = require('kenetic.commands')
    commands.last_card = nil
    vim.cmd('Kenetic skills')
    wait(5000, function()
      return commands.last_card ~= nil
    end, 'the skill card')
    assert(#shown_items >= 1, 'no skills offered in vim.ui.select')
    return { items = shown_items, card = commands.last_card:sub(1, 200) }
  end)
  -- close the card's floating window
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      pcall(vim.api.nvim_win_close, win, true)
    end
  end

  step('Apply skill: at a third site (code action menu), applied', function()
    vim.api.nvim_win_set_cursor(0, { 9, 6 })
    local enc = client().offset_encoding
    local params = vim.lsp.util.make_range_params(0, enc)
    params.context = { diagnostics = {}, triggerKind = 1 }
    local titles = {}
    wait(10000, function()
      local answers = vim.lsp.buf_request_sync(0, 'textDocument/codeAction', params, 3000) or {}
      titles = {}
      for _, answer in pairs(answers) do
        for _, action in ipairs(answer.result or {}) do
          table.insert(titles, action.title)
        end
      end
      return vim.iter(titles):any(function(t)
        return vim.startswith(t, 'Apply skill:')
      end)
    end, 'an "Apply skill:" code action')
    -- now the way a person does it: vim.lsp.buf.code_action() and pick the skill in the menu
    pick = function(items, texts)
      for i, text in ipairs(texts) do
        if text:match('Apply skill:') then
          return items[i]
        end
      end
    end
    vim.lsp.buf.code_action()
    wait(5000, function()
      return line(9) == '    logger.info(c)'
    end, 'the skill applied at line 9 (now: ' .. tostring(line(9)) .. ')')
    pick = function(items)
      return items[1]
    end
    return { titles = titles, menu = shown_items }
  end)

  step('inline suggestion at a fourth site: virtual text, accepted with <M-l>', function()
    assert(client().server_capabilities.inlineCompletionProvider, 'the server offers no inline completions')
    local buf = vim.api.nvim_get_current_buf()
    local inline = require('kenetic.inline')
    -- start the rewrite by hand: `print` -> `log`, then wait for the rest to be suggested
    vim.api.nvim_feedkeys(vim.keycode('11G^cwlog'), 'nt', false)
    poll(8000, function()
      return inline.current(buf) ~= nil
    end, 'an inline suggestion (line 11: ' .. tostring(line(11)) .. ', mode ' .. vim.api.nvim_get_mode().mode .. ')')
    local marks = vim.api.nvim_buf_get_extmarks(buf, vim.api.nvim_get_namespaces()['kenetic.inline'], 0, -1, { details = true })
    assert(#marks == 1, 'no virtual text shown')
    local ghost = marks[1][4].virt_text[1][1]
    vim.api.nvim_feedkeys(vim.keycode('<M-l>'), 'mt', false)
    poll(5000, function()
      return line(11) == '    logger.info(d)'
    end, 'the suggestion accepted (line 11: ' .. tostring(line(11)) .. ')')
    vim.api.nvim_feedkeys(vim.keycode('<Esc>'), 'nt', false)
    sleep(100)
    return { ghost = ghost }
  end)

  step(':Kenetic next fills the quickfix list', function()
    vim.fn.setqflist({}, 'r')
    vim.cmd('Kenetic next')
    wait(5000, function()
      return #vim.fn.getqflist() >= 1
    end, 'next edits in the quickfix list')
    local items = vim.fn.getqflist()
    vim.cmd('cclose')
    vim.cmd('wincmd p')
    return vim.tbl_map(function(i)
      return i.lnum .. ': ' .. i.text
    end, items)
  end)

  step(':Kenetic apply ID rewrites the rest of the file', function()
    assert(skill, 'no skill')
    vim.cmd('Kenetic apply ' .. skill.id)
    wait(5000, function()
      return not table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n'):match('print%(')
    end, 'every print rewritten')
  end)

  step(':KeneticExportSkill picks a skill and a format (vim.ui.select), writes the rule', function()
    assert(skill, 'no skill')
    local commands = require('kenetic.commands')
    commands.last_export = nil
    local input = vim.ui.input
    vim.ui.input = function(_, on_confirm)
      on_confirm('') -- the default folder: the workspace's .kenetic/rules/
    end
    shown_items = {}
    vim.cmd('KeneticExportSkill')
    wait(10000, function()
      return commands.last_export ~= nil
    end, 'the export answer')
    vim.ui.input = input
    local rule = commands.last_export.skill and commands.last_export.skill.rule
    assert(type(rule) == 'string' and rule:match('/%.kenetic/rules/rules/kenetic%-' .. vim.pesc(skill.id) .. '%.yml$'),
      'rule path ' .. vim.inspect(commands.last_export))
    assert(vim.fn.filereadable(rule) == 1, 'no rule file at ' .. rule)
    assert(table.concat(vim.fn.readfile(rule), '\n'):match('fix:'), 'no fix: in the rule')
    return { rule = vim.fn.fnamemodify(rule, ':t'), verdict = commands.last_export.skill.verdict, items = shown_items }
  end)

  step(':Kenetic stats, freeze, new', function()
    local commands = require('kenetic.commands')
    commands.last_stats = nil
    vim.cmd('Kenetic stats')
    wait(5000, function()
      return commands.last_stats ~= nil
    end, 'stats')
    assert(commands.last_stats.episodes, 'no episodes in stats')
    local from = #messages + 1
    vim.cmd('Kenetic freeze')
    wait(5000, function()
      return message_matching('frozen', from)
    end, 'the freeze message')
    vim.cmd('Kenetic new')
    wait(5000, function()
      return message_matching('new session', from)
    end, 'the new-session message')
    return message_matching('frozen', from)
  end)

  step(':Kenetic agent answers with a result or a clear message', function()
    local from = #messages + 1
    vim.cmd('Kenetic agent say hello')
    wait(20000, function()
      -- a result, or what the server (window/showMessage) or the client said went wrong, once
      return message_matching('agent:', from) or message_matching('does not offer', from) or message_matching('failed', from)
        or vim.iter(vim.list_slice(messages, from)):any(function(m)
          return (m.level or 0) >= vim.log.levels.WARN
        end)
    end, 'an answer from kenetic/agent/run')
    return messages[#messages].msg
  end)

  step(':!false is forwarded as a command episode', function()
    vim.api.nvim_feedkeys(vim.keycode(':!false<CR>'), 'xt', false)
    local found
    wait(10000, function()
      for _, e in ipairs(episodes('command')) do
        if e.command == 'false' and e.source == 'terminal' then
          found = e
        end
      end
      return found
    end, 'the :!false episode')
    assert(found.exitCode == 1, 'exit code ' .. tostring(found.exitCode))
    return found
  end)

  step('a terminal job exit is forwarded as a command episode', function()
    local buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_call(buf, function()
      vim.fn.jobstart({ 'sh', '-c', 'exit 3' }, { term = true, cwd = ws })
    end)
    local found
    wait(10000, function()
      for _, e in ipairs(episodes('command')) do
        if e.command:match('exit 3') and e.source == 'terminal' then
          found = e
        end
      end
      return found
    end, 'the terminal job episode')
    assert(found.exitCode == 3, 'exit code ' .. tostring(found.exitCode))
    return found
  end)

  step(':checkhealth kenetic has no errors', function()
    vim.cmd('checkhealth kenetic')
    local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
    local text = table.concat(lines, '\n')
    assert(text:match('server: '), 'no server line:\n' .. text)
    assert(text:match('version: kenetic'), 'no version line:\n' .. text)
    assert(text:match('store: '), 'no store line:\n' .. text)
    assert(text:match('ranker in use: '), 'no ranker line:\n' .. text)
    assert(not text:match('ERROR'), 'errors:\n' .. text)
    vim.cmd('bwipeout!')
    return text
  end)

  finish(vim.iter(steps):all(function(s)
    return s.ok
  end) and 0 or 1)
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local co = coroutine.create(function()
        local ok, err = xpcall(run, debug.traceback)
        if not ok then
          table.insert(steps, { name = 'run', ok = false, ms = 0, detail = err })
          finish(1)
        end
      end)
      local ok, err = coroutine.resume(co)
      if not ok then
        table.insert(steps, { name = 'run', ok = false, ms = 0, detail = err })
        finish(1)
      end
    end)
  end,
})
