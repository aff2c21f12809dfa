-- :checkhealth kenetic — is the server found, which version, where is the store, which ranker.

local M = {}

local function server_cmd()
  local config = vim.lsp.config.kenetic or {}
  local cmd = config.cmd
  if type(cmd) ~= 'table' or not cmd[1] then
    return nil
  end
  return cmd
end

local function run(argv, timeout)
  local ok, proc = pcall(vim.system, argv, { text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local res = proc:wait(timeout)
  if res.code ~= 0 then
    return nil, vim.trim((res.stderr or '') .. (res.stdout or '')), res
  end
  return res.stdout, nil, res
end

function M.check()
  vim.health.start('kenetic: server')
  if vim.fn.has('nvim-0.11') == 0 then
    vim.health.error('Neovim 0.11 or newer is needed (vim.lsp.config / vim.lsp.enable)')
    return
  end
  local cmd = server_cmd()
  if not cmd then
    vim.health.error('no `cmd` for kenetic: is editors/nvim on the runtimepath (lsp/kenetic.lua)?')
    return
  end
  local exe = vim.fn.exepath(cmd[1])
  if exe == '' then
    vim.health.error(('`%s` not found'):format(cmd[1]), {
      'pip install kenetic (in a virtual environment), then',
      "require('kenetic').setup{ cmd = { '/path/to/venv/bin/kenetic', 'serve' } }",
    })
    return
  end
  vim.health.ok(('server: %s'):format(exe))
  local out, err = run({ exe, '--version' }, 10000)
  if out then
    vim.health.ok('version: ' .. vim.trim(out))
  else
    vim.health.error('`kenetic --version` failed: ' .. (err or '?'))
    return
  end

  vim.health.start('kenetic: store and ranker')
  local client = require('kenetic').client()
  local root = client and client.root_dir or vim.fn.getcwd()
  local report_json, derr, res = run({ exe, 'doctor', '--json', '--workspace', root }, 30000)
  report_json = report_json or (res and res.stdout)
  local ok, report = pcall(vim.json.decode, report_json or '')
  if not ok or type(report) ~= 'table' then
    vim.health.warn('`kenetic doctor --json` gave no report: ' .. (derr or '?'))
  else
    local store = report.store or {}
    if store.error then
      vim.health.error(('store %s: %s'):format(store.path or '?', store.error))
    elseif store.exists then
      local episodes = {}
      for kind, n in pairs(store.episodes or {}) do
        episodes[#episodes + 1] = ('%d %s'):format(n, kind)
      end
      table.sort(episodes)
      vim.health.ok(('store: %s (%s)'):format(store.path, table.concat(episodes, ', ')))
    else
      vim.health.ok(('store: %s (%s)'):format(store.path or '?', store.note or 'not created yet'))
    end
    if report.trm and report.trm.torch then
      vim.health.ok('TRM ranker available (torch importable)')
    else
      vim.health.info('TRM ranker unavailable (torch not installed): the rule ranker is used')
    end
    for _, problem in ipairs(report.problems or {}) do
      vim.health.warn(problem)
    end
  end

  vim.health.start('kenetic: this session')
  if not client then
    vim.health.info("not attached to any buffer (vim.lsp.enable('kenetic'), then open a file in a project)")
    return
  end
  local info = client.server_info or {}
  vim.health.ok(('running: %s %s, root %s'):format(info.name or 'kenetic', info.version or '?', client.root_dir or '(none)'))
  local answer = client:request_sync('kenetic/stats', vim.empty_dict(), 5000)
  if answer and answer.result then
    local stats = answer.result
    vim.health.ok(('ranker in use: %s; skills: %s; pending: %s'):format(
      tostring(stats.ranker),
      tostring(stats.skills),
      tostring(stats.pending)
    ))
  else
    vim.health.warn('kenetic/stats did not answer: ' .. vim.inspect(answer and answer.err or 'timeout'))
  end
  local caps = client.server_capabilities or {}
  if caps.inlineCompletionProvider then
    local native = vim.lsp.inline_completion ~= nil
    vim.health.ok('inline suggestions: ' .. (native and 'vim.lsp.inline_completion' or 'virtual text (kenetic.inline)'))
  else
    vim.health.info('inline suggestions: not offered by this server')
  end
end

return M
